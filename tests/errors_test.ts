import assert from "node:assert/strict";
import { isInvocationError, RlifError, UsageError } from "../lib/errors.ts";
import { DataError } from "../lib/data/errors.ts";
import { InputFileError } from "../lib/data/jsonl_input.ts";
import { UnsupportedLatexError } from "../lib/grading/latex_to_mathjs.ts";
import { GpuError, KernelArgumentError, NonFiniteError } from "../lib/gpu/errors.ts";
import { ModelConfigError } from "../lib/model/config.ts";
import { SafetensorsError } from "../lib/model/safetensors.ts";
import { CheckpointMismatchError } from "../lib/model/weights.ts";
import { ArithmeticSyntaxError } from "../lib/rewards/arithmetic_expression.ts";
import { RewardError } from "../lib/rewards/errors.ts";
import { ConfigError } from "../lib/rl/config.ts";
import { TokenizerError } from "../lib/tokenizer/errors.ts";

Deno.test("every user-facing error is an RlifError with a stable code; usage and config ones are invocation errors", () => {
  const cases: Array<[Error, string]> = [
    [new UsageError("--n 0"), "usage"],
    [new ConfigError("a.yaml", [{ key: "k", where: "a.yaml:1:1", message: "bad" }]), "config.invalid"],
    [new CheckpointMismatchError("m", [{ kind: "missing", name: "w" }]), "checkpoint.mismatch"],
    [new ModelConfigError("m/config.json", "hidden_size", "is required"), "model.config"],
    [new SafetensorsError("m.safetensors", "bad header"), "model.safetensors"],
    [new TokenizerError("bad tokenizer"), "tokenizer.invalid"],
    [new DataError("bad row"), "data.invalid"],
    [new InputFileError("in.jsonl", 3, "bad line"), "input.file"],
    [new RewardError("bad option"), "reward.invalid"],
    [new ArithmeticSyntaxError("stray", 2), "reward.arithmetic_syntax"],
    [new UnsupportedLatexError("dangling backslash"), "grading.unsupported_latex"],
    [new GpuError("lost"), "gpu.error"],
    [new GpuError("none", { code: "gpu.no_adapter" }), "gpu.no_adapter"],
    [new KernelArgumentError("matmul", "a", "must be f32"), "kernel.argument"],
    [new NonFiniteError("loss is NaN"), "nonfinite"],
  ];
  for (const [e, code] of cases) {
    assert.ok(e instanceof RlifError, `${e.name} derives from RlifError`);
    assert.equal((e as RlifError).code, code, e.name);
    assert.equal(isInvocationError(e), code === "usage" || code.startsWith("config."), e.name);
  }
  assert.equal(isInvocationError(new TypeError("x")), false);
});
