/**
 * A small matmul, read back once: the process tests/gpu/debug_test.ts runs under RLIF_DEBUG to see what
 * it prints. Prints the product's first element to stdout.
 *
 * @module
 */
import { getDevice } from "../../lib/gpu/device.ts";
import { matmul } from "../../lib/ops/matmul.ts";

const gpu = await getDevice();
const a = gpu.fromArray(Array.from({ length: 5 * 3 }, (_, i) => i), [5, 3]);
const b = gpu.fromArray(Array.from({ length: 3 * 7 }, (_, i) => i % 4), [3, 7]);
const c = matmul(gpu, a, b);
console.log((await c.read())[0]);
