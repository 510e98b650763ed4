// The slice of the WebAssembly JS API the kernel uses. tsconfig's lib is ES2023 without DOM and
// @types/node 20 does not declare the WebAssembly global, so it is declared here. Drop this file
// if the project ever adds a lib that declares it (the declarations would clash).
declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
    static exports(module: Module): { name: string; kind: string }[];
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(deltaPages: number): number;
  }
  function compile(bytes: ArrayBufferView | ArrayBuffer): Promise<Module>;
}
