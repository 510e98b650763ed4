// Public entry of the kernel module.
export { loadKernel, defaultKernelUrl } from './kernel.js';
export type { Kernel, KernelLookup } from './types.js';
