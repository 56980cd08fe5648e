import { fileURLToPath } from "node:url";
import { z } from "zod";
import {
  checkSchema,
  ConfigError,
  type ConfigSpec,
  configToYaml,
  GRPO_CONFIG,
  type GrpoConfig,
  loadConfig,
  renderConfigDocs,
  resolveConfig,
  schemaFields,
} from "../../lib/rl/config.ts";
import { rewardFromConfig } from "../../lib/rewards/registry.ts";
import { assertThrowsWith } from "../support/numeric.ts";
import { group, stats } from "../rewards/fixtures.ts";

const MIN = "model:\n  path: models/tiny\ndata:\n  path: data/train.jsonl\n  preset: math500\n";

function eq(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, expected ${e}`);
}

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.where ? `${i.where}: ` : ""}${i.message}`);
    throw e;
  }
  throw new Error("expected a ConfigError");
}

function hasIssue(issues: string[], ...fragments: string[]): void {
  if (!issues.some((i) => fragments.every((f) => i.includes(f)))) {
    throw new Error(
      `no issue mentions ${fragments.map((f) => JSON.stringify(f)).join(" + ")} in:\n${issues.join("\n")}`,
    );
  }
}

Deno.test("a minimal YAML gets every default and records where values came from", () => {
  const { config, sources } = resolveConfig(GRPO_CONFIG, MIN, "grpo.yaml");
  eq(config.model, { path: "models/tiny", lora: null }, "model");
  eq(
    [
      config.rollout.n,
      config.train.lr,
      config.algorithm.kl_coef,
      config.algorithm.kl_estimator,
      config.train.betas,
    ],
    [8, 3e-6, 0.005, "low_var_kl", [0.9, 0.999]],
    "defaults",
  );
  eq([sources["model.path"], sources["train.lr"]], ["grpo.yaml:2:9", "default"], "sources");
  eq(checkSchema(GRPO_CONFIG), [], "the schema's own defaults are valid");
});

Deno.test("command-line overrides: dotted, unique bare names, =, bools, lists, null, mappings", () => {
  const { config, sources } = resolveConfig(GRPO_CONFIG, MIN, "grpo.yaml", [
    "--train.lr",
    "1e-5",
    "--clip_high=0.28",
    "--data.chat_template",
    "false",
    "--rollout.stop",
    "</answer>,\\n\\n",
    "--train.betas",
    "[0.9, 0.95]",
    "--data.limit",
    "50",
    "--data.fields.answer",
    "null",
    "--reward.name",
    "hybrid",
    "--reward.components",
    "[{name: self_certainty, weight: 0.5}, {name: math_accuracy}]",
    "--log.resume",
    "runs/a",
    "--rollout.top_p",
    "0.95",
  ]);
  eq(
    [
      config.train.lr,
      config.algorithm.clip_high,
      config.data.chat_template,
      config.rollout.stop,
      config.train.betas,
    ],
    [1e-5, 0.28, false, ["</answer>", "\\n\\n"], [0.9, 0.95]],
    "values",
  );
  eq([config.data.limit, config.data.fields.answer, config.log.resume], [50, null, "runs/a"], "nullable");
  eq(config.reward.components, [
    { name: "self_certainty", weight: 0.5, options: {} },
    { name: "math_accuracy", weight: 1, options: {} },
  ], "items");
  eq([sources["algorithm.clip_high"], sources["train.lr"]], ["--clip_high", "--train.lr"], "sources");
  // A bool flag without a value means true.
  const yaml = "model:\n  path: m\ndata:\n  path: d.jsonl\n  preset: gsm8k\n  chat_template: false\n";
  const bare = resolveConfig(GRPO_CONFIG, yaml, "g.yaml", ["--data.chat_template", "--rollout.n", "4"]);
  eq([bare.config.data.chat_template, bare.config.rollout.n], [true, 4], "bare bool flag");
});

Deno.test("train.recompute: off by default, a bool from YAML or the command line, nothing else", () => {
  eq(resolveConfig(GRPO_CONFIG, MIN, "grpo.yaml").config.train.recompute, false, "default");
  eq(resolveConfig(GRPO_CONFIG, MIN, "grpo.yaml", ["--recompute"]).config.train.recompute, true, "bare flag");
  const yaml = `${MIN}\ntrain:\n  recompute: true\n`;
  eq(resolveConfig(GRPO_CONFIG, yaml, "grpo.yaml").config.train.recompute, true, "YAML");
  const issues = issuesOf(() => resolveConfig(GRPO_CONFIG, MIN, "grpo.yaml", ["--train.recompute=layers"]));
  hasIssue(issues, "--train.recompute", "train.recompute: expected");
});

Deno.test("data.chat_template_kwargs: {} by default; a mapping from YAML, a JSON or YAML flag, or one key", () => {
  const kwargs = (yaml: string, args: string[] = []) =>
    resolveConfig(GRPO_CONFIG, yaml, "g.yaml", args).config.data.chat_template_kwargs;
  eq(kwargs(MIN), {}, "default");
  const yaml = `${MIN}  chat_template_kwargs:\n    enable_thinking: false\n    tools: [{name: add}]\n`;
  eq(kwargs(yaml), { enable_thinking: false, tools: [{ name: "add" }] }, "YAML");
  eq(
    kwargs(MIN, ["--data.chat_template_kwargs", '{"enable_thinking": false, "n": 2}']),
    { enable_thinking: false, n: 2 },
    "JSON flag",
  );
  eq(kwargs(MIN, ["--chat_template_kwargs={enable_thinking: true}"]), { enable_thinking: true }, "bare key");
  // One key from the command line joins the file's others.
  eq(
    kwargs(yaml, ["--data.chat_template_kwargs.enable_thinking", "true"]),
    { enable_thinking: true, tools: [{ name: "add" }] },
    "one key",
  );
  const { config, sources } = resolveConfig(GRPO_CONFIG, yaml, "g.yaml", [
    "--data.chat_template_kwargs.enable_thinking",
    "true",
  ]);
  eq(
    sources["data.chat_template_kwargs.enable_thinking"],
    "--data.chat_template_kwargs.enable_thinking",
    "source",
  );
  // What a run directory keeps reads back the same.
  eq(
    resolveConfig(GRPO_CONFIG, configToYaml(GRPO_CONFIG, config), "c.yaml").config.data.chat_template_kwargs,
    { enable_thinking: true, tools: [{ name: "add" }] },
    "configToYaml round trip",
  );
});

Deno.test("data.chat_template_kwargs: anything but a mapping, a reserved name, or kwargs without a chat template", () => {
  hasIssue(
    issuesOf(() => resolveConfig(GRPO_CONFIG, `${MIN}  chat_template_kwargs: [enable_thinking]\n`, "g.yaml")),
    "g.yaml:6:25",
    "data.chat_template_kwargs: expected a mapping",
  );
  for (const raw of ["true", "[1, 2]", "thinking", "null"]) {
    hasIssue(
      issuesOf(() => resolveConfig(GRPO_CONFIG, MIN, "g.yaml", ["--data.chat_template_kwargs", raw])),
      "--data.chat_template_kwargs",
      "data.chat_template_kwargs: expected a mapping",
    );
  }
  hasIssue(
    issuesOf(() => resolveConfig(GRPO_CONFIG, MIN, "g.yaml", ["--data.chat_template_kwargs", "{a: [1"])),
    "--data.chat_template_kwargs: data.chat_template_kwargs: ",
  );
  hasIssue(
    issuesOf(() => resolveConfig(GRPO_CONFIG, MIN, "g.yaml", ["--data.chat_template_kwargs.messages", "[]"])),
    "--data.chat_template_kwargs.messages",
    "may not set messages",
  );
  hasIssue(
    issuesOf(() =>
      resolveConfig(
        GRPO_CONFIG,
        `${MIN}  chat_template: false\n  chat_template_kwargs: {enable_thinking: false}\n`,
        "g.yaml",
      )
    ),
    "g.yaml:7:25",
    "data.chat_template_kwargs (enable_thinking) only reaches the chat template",
    "set data.chat_template true",
  );
});

Deno.test("every problem is reported at once, naming file:line, key and what is allowed", () => {
  const yaml = [
    "model:",
    "  pth: models/tiny", // 2: misspelt key
    "algorithm:",
    "  kl_estimator: k4", // 4: not a choice
    "  kl_coeff: 0.1", // 5: misspelt key
    "  clip_low: 1.5", // 6: out of range
    "rollout:",
    "  n: 1", // 8: GRPO group of one
    "  temperature: hot", // 9: wrong type
    "train:",
    "  betas: [0.9, 0.99, 0.999]", // 11: wrong length
    "  kl_coef: 0.1", // 12: key of another section
    "log: 3", // 13: a section given a scalar
  ].join("\n");
  const issues = issuesOf(() =>
    resolveConfig(GRPO_CONFIG, yaml, "bad.yaml", ["--seed", "3", "--train.lr", "fast", "--lrr", "1", "stray"])
  );
  hasIssue(issues, "bad.yaml:2:3", "unknown key model.pth", "did you mean model.path?");
  hasIssue(issues, "bad.yaml:4:17", "algorithm.kl_estimator", '"k4" is not one of k1, k2, k3, low_var_kl');
  hasIssue(issues, "bad.yaml:5:3", "did you mean algorithm.kl_coef?");
  hasIssue(issues, "bad.yaml:6:13", "algorithm.clip_low: 1.5 is out of range", ">= 0 and < 1");
  hasIssue(issues, "bad.yaml:8:6", "rollout.n", "GRPO needs at least 2 samples per prompt");
  hasIssue(issues, "bad.yaml:9:16", "rollout.temperature: expected a number > 0, got string");
  hasIssue(issues, "bad.yaml:11:10", "train.betas: expected 2 elements, got 3");
  hasIssue(issues, "bad.yaml:12:3", "unknown key train.kl_coef", "did you mean algorithm.kl_coef?");
  hasIssue(issues, "bad.yaml:13:6", "log is a section", "dir, name, every, save_every, resume");
  hasIssue(issues, "--seed", "ambiguous", "--data.synthetic.seed, --train.seed");
  hasIssue(issues, "--train.lr", 'train.lr: expected a number > 0, got "fast"');
  hasIssue(issues, "--lrr", "unknown key lrr", "did you mean --train.lr?");
  hasIssue(issues, "stray", "unexpected argument");
  hasIssue(issues, "bad.yaml", "model.path is required");
  const msg = (() => {
    try {
      resolveConfig(GRPO_CONFIG, yaml, "bad.yaml");
    } catch (e) {
      return (e as Error).message;
    }
  })()!;
  if (!msg.startsWith("invalid bad.yaml (")) throw new Error(`message should name the file: ${msg}`);
});

Deno.test("YAML syntax errors and non-mapping documents name the line", () => {
  hasIssue(
    issuesOf(() => resolveConfig(GRPO_CONFIG, "model:\n  path: [a\n", "s.yaml")),
    "s.yaml:",
    "YAML syntax error",
  );
  hasIssue(
    issuesOf(() => resolveConfig(GRPO_CONFIG, "model:\n  path: a\nmodel:\n  path: b\n", "d.yaml")),
    "d.yaml:3",
    "YAML syntax error",
  );
  hasIssue(
    issuesOf(() => resolveConfig(GRPO_CONFIG, "- 1\n- 2\n", "l.yaml")),
    "l.yaml:1:1",
    "must be a mapping",
  );
});

Deno.test("hybrid reward components are checked item by item", () => {
  const base = MIN + "reward:\n  name: hybrid\n  components:\n";
  hasIssue(
    issuesOf(() => resolveConfig(GRPO_CONFIG, base + "    - {name: self_certainty, wieght: 2}\n", "h.yaml")),
    "h.yaml:9:38",
    "unknown key reward.components[0].wieght; did you mean weight?",
  );
  hasIssue(
    issuesOf(() => resolveConfig(GRPO_CONFIG, base + "    - {weight: 2}\n", "h.yaml")),
    "reward.components[0].name is required (one of self_certainty",
  );
  hasIssue(
    issuesOf(() => resolveConfig(GRPO_CONFIG, base + "    - {name: vibes}\n", "h.yaml")),
    'reward.components[0].name: "vibes" is not one of self_certainty',
  );
  hasIssue(
    issuesOf(() => resolveConfig(GRPO_CONFIG, MIN + "reward:\n  name: hybrid\n", "h.yaml")),
    "reward.components is required (a list)",
  );
});

const GROUP = group(["<think>t</think>\\boxed{2}", "\\boxed{3}", "<think>t</think>\\boxed{2}"], {
  groundTruth: "2",
  stats: [stats({ selfCertainty: 1 }), stats({ selfCertainty: 5 }), stats({ selfCertainty: 2 })],
});

/** The rewards of GROUP under the `reward` section `yaml` (indented under `reward:`). */
function rewardsFrom(yaml: string): number[] {
  const { config } = resolveConfig(GRPO_CONFIG, `${MIN}reward:\n${yaml}`, "r.yaml");
  const { reward, shaping } = rewardFromConfig(config.reward);
  return shaping(reward.fn(GROUP));
}

Deno.test("hybrid per-term options and shaping are read from YAML and change the rewards", () => {
  const plain = rewardsFrom(
    "  name: hybrid\n  components:\n    - {name: math_accuracy}\n    - {name: borda_vote, weight: 2}\n" +
      "    - {name: self_certainty, weight: 0.5}\n",
  );
  const tuned = rewardsFrom(
    "  name: hybrid\n  components:\n    - {name: math_accuracy}\n" +
      "    - name: borda_vote\n      weight: 2\n      options: {power: 0}\n" +
      "      shaping: {name: discretize, top: 0.34, bottom: 0.34, middle: 0.25}\n" +
      "    - {name: self_certainty, weight: 0.5, shaping: minmax}\n",
  );
  // accuracy [1, 0, 1]; borda (default power 0.5): the two votes for 2 outweigh the one for 3: [1, 0, 1];
  // with power 0 the same, then discretized at 0.34 of 3 (2 ranks at each end): the ones are top and,
  // through the tie, bottom too, so they get middle 0.25; the zero is only bottom: [0.25, 0, 0.25].
  // self-certainty [1, 5, 2] raw, or minmax [0, 1, 0.25].
  eq(plain, [1 + 2 + 0.5, 0 + 0 + 2.5, 1 + 2 + 1], "unshaped terms with default options");
  eq(tuned, [1 + 0.5 + 0, 0 + 0 + 0.5, 1 + 0.5 + 0.125], "per-term options and shaping");
  // power 4: answer 2 gets (3 - 3 + 1)^4 + (3 - 2 + 1)^4 = 17 against (3 - 1 + 1)^4 = 81 for answer 3.
  const power = rewardsFrom("  name: hybrid\n  components:\n    - {name: borda_vote, options: {power: 4}}\n");
  eq(power, [0, 1, 0], "the option reaches the reward");
  eq(rewardsFrom("  name: borda_vote\n  power: 4\n"), [0, 1, 0], "a top-level reward's own option");
  eq(
    rewardsFrom("  name: self_certainty\n  shaping: {name: percentile, top: 0.33, bottom: 0}\n"),
    [0, 5, 0],
    "the final shaping with its options",
  );
});

Deno.test("a nested reward option error names its path and line and suggests the close key", () => {
  const yaml = MIN +
    "reward:\n  name: hybrid\n  components:\n    - {name: math_accuracy}\n" +
    "    - {name: borda_vote, options: {powr: 2}}\n    - {name: borda_vote, options: {power: -1}}\n" +
    "    - {name: self_certainty, shaping: {name: zscore, std: unbiased}}\n";
  const issues = issuesOf(() => resolveConfig(GRPO_CONFIG, yaml, "n.yaml"));
  hasIssue(issues, "n.yaml:10:", "unknown key reward.components[1].options.powr; did you mean power?");
  hasIssue(issues, "n.yaml:11:", "reward.components[2].options.power: must be >= 0, got -1");
  hasIssue(
    issues,
    "n.yaml:12:",
    'reward.components[3].shaping.std: "unbiased" is not one of sample, population',
  );
  const flag = issuesOf(() =>
    resolveConfig(GRPO_CONFIG, MIN, "n.yaml", ["--reward.name", "borda_vote", "--reward.powr", "2"])
  );
  hasIssue(flag, "--reward.", "unknown key reward.powr; did you mean power?");
  const set = resolveConfig(GRPO_CONFIG, MIN, "n.yaml", [
    "--reward.name",
    "borda_vote",
    "--reward.power",
    "2",
  ]);
  eq([set.config.reward.power, set.sources["reward.power"]], [2, "--reward.power"], "option from a flag");
  const bare = resolveConfig(GRPO_CONFIG, MIN, "n.yaml", ["--scorer", "offline", "--shaping", "zscore"]);
  eq([bare.config.reward.scorer, bare.config.reward.shaping], ["offline", {
    name: "zscore",
    eps: 1e-6,
    std: "sample",
  }], "a reward key named bare");
  hasIssue(
    issuesOf(() => resolveConfig(GRPO_CONFIG, MIN, "n.yaml", ["--scorr", "x"])),
    "did you mean --reward.scorer?",
  );
});

Deno.test("cross-key checks point at the key's source", () => {
  hasIssue(
    issuesOf(() => resolveConfig(GRPO_CONFIG, "model:\n  path: m\ndata:\n  path: d.jsonl\n", "c.yaml")),
    "needs data.preset or data.fields.problem",
  );
  const ok = resolveConfig(GRPO_CONFIG, "model:\n  path: m\n", "c.yaml");
  eq(ok.config.data.path, null, "no path: the synthetic task, which needs no mapping");
  hasIssue(
    issuesOf(() => resolveConfig(GRPO_CONFIG, MIN + "train:\n  steps: 5\n  warmup_steps: 9\n", "c.yaml")),
    "c.yaml:8:17",
    "train.warmup_steps (9) exceeds train.steps (5)",
  );
});

Deno.test("configToYaml round-trips and carries the docs as comments", () => {
  const { config } = resolveConfig(GRPO_CONFIG, MIN, "grpo.yaml", ["--lr", "2e-6", "--rollout.stop", "a,b"]);
  const text = configToYaml(GRPO_CONFIG, config);
  if (!text.includes("# Peak learning rate") || !text.includes("lr: 2e-6")) {
    throw new Error(`config.yaml lacks docs or exponent form:\n${text}`);
  }
  if (text.indexOf("path: models/tiny") > text.indexOf("chat_template: true")) {
    throw new Error("not in schema order");
  }
  const again = resolveConfig(GRPO_CONFIG, text, "config.yaml").config;
  eq(again, config, "round trip");
});

Deno.test("loadConfig reads --config, and a missing file is a ConfigError naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/exp.yaml`;
    await Deno.writeTextFile(file, MIN + "rollout:\n  n: 4\n");
    const { config, file: used } = await loadConfig(GRPO_CONFIG, {
      file: "ignored.yaml",
      args: ["--config", file, "--n", "6"],
    });
    eq([used, config.rollout.n], [file, 6], "override beats file");
    await assertThrowsWith(
      () => loadConfig(GRPO_CONFIG, { file: `${dir}/nope.yaml` }),
      "nope.yaml",
      "cannot read",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("renderConfigDocs lists every key, and a schema with a bad default is caught", () => {
  const md = renderConfigDocs(GRPO_CONFIG);
  for (const [key] of schemaFields(GRPO_CONFIG.fields)) {
    if (!md.includes(`| \`${key}\` |`)) throw new Error(`docs lack ${key}`);
  }
  for (
    const s of [
      "`reward.components` (hybrid)",
      "`reward.power` (borda_vote)",
      "`low_var_kl`",
      "_(required)_",
      "## `algorithm`",
      "\\| null",
    ]
  ) {
    if (!md.includes(s)) throw new Error(`docs lack ${s}`);
  }
  const bad: ConfigSpec<{ a: { n: number } }> = {
    title: "t",
    fields: { a: { n: { schema: z.number().int().min(1), default: 0, doc: "n" } } },
  };
  eq(checkSchema(bad), ["default of a.n: 0 is out of range; allowed: an integer >= 1"], "bad default");
});

const README = fileURLToPath(new URL("../../configs/README.md", import.meta.url));
const DENO_JSON = fileURLToPath(new URL("../../deno.json", import.meta.url));

/** The docs as `deno fmt` leaves them (it aligns tables and wraps prose), so a formatted file compares equal. */
async function formattedDocs(): Promise<string> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["fmt", `--config=${DENO_JSON}`, "--ext=md", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = proc.stdin.getWriter();
  await writer.write(new TextEncoder().encode(renderConfigDocs(GRPO_CONFIG)));
  await writer.close();
  const out = await proc.output();
  if (!out.success) throw new Error(`deno fmt failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

Deno.test({
  name: "configs/README.md is the rendered GRPO schema (regenerate with renderConfigDocs, then deno fmt)",
  async fn() {
    const readme = await Deno.readTextFile(README).catch(() => "");
    if (readme !== await formattedDocs()) {
      throw new Error(
        "configs/README.md is out of date; regenerate it: deno eval " +
          `'import {renderConfigDocs, GRPO_CONFIG} from "./lib/rl/config.ts"; ` +
          `Deno.writeTextFileSync("configs/README.md", renderConfigDocs(GRPO_CONFIG))' && deno fmt configs/README.md`,
      );
    }
  },
});

// Compile-time check that the schema type and the config interface agree.
const _typed: GrpoConfig | null = null;
void _typed;

Deno.test("every experiment config in configs/ resolves against the schema", async () => {
  const dir = new URL("../../configs/", import.meta.url);
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".yaml")) files.push(e.name);
  for (const name of ["intuitor", "grpo", "coe", "ttrl", "entropy", "hybrid", "ttt"]) {
    if (!files.includes(`${name}.yaml`)) throw new Error(`configs/${name}.yaml is missing`);
  }
  for (const f of files) await loadConfig(GRPO_CONFIG, { file: new URL(f, dir).pathname });
});
