export { type Completion, generate, type GenerateOptions, promptIds } from "./generate.ts";
