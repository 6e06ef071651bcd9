// The emulated camera's settings live with the emulated camera source (hal/emulated).
export * from '../../hal/emulated/camera-args.js';
