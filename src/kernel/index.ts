// Public entry of the kernel module.
export { loadKernel, defaultKernelUrl, type Kernel, type KernelLookup } from './kernel.js';
