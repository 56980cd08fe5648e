export { add, axpy, scale } from "./elementwise.ts";
