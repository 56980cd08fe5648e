/**
 * Typed experiment configs: every key is a zod schema (its type, range and choices) with a default and a
 * one-line doc; a mapping-valued key such as `reward` is one zod schema for the whole mapping (a
 * discriminated union on the reward's name with its options nested). {@link loadConfig} reads a YAML file (npm `yaml`, YAML 1.2), applies the defaults and
 * `--section.key value` command-line overrides, and validates everything before any work starts. All
 * problems are reported at once in one {@link ConfigError}, each naming the file and line (or flag),
 * the key, and what would be valid, with the closest known key for a misspelt one.
 *
 * {@link GRPO_CONFIG} is the GRPO trainer's schema; {@link renderConfigDocs} turns any schema into the
 * Markdown reference checked in as configs/README.md.
 *
 * @module
 */

import { RlifError } from "../errors.ts";
import {
  Document,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type Scalar,
  type YAMLMap,
} from "yaml";
import { z } from "zod";
import { DATASET_PRESETS } from "../data/fields.ts";
import { closestKey, schemaProblems } from "../schema.ts";

export { closestKey };
import { type GraderName, GRADERS } from "../grading/grade.ts";
import {
  REWARD_CONFIG_SCHEMA,
  type RewardConfig,
  rewardCountdownRules,
  rewardGraders,
} from "../rewards/registry.ts";
import { COUNTDOWN_RULES, type CountdownRule } from "../rewards/countdown.ts";
import { GRPO_RATIOS, type GrpoRatio } from "../ops/grpo_loss.ts";
import { ADV_STD_SCALINGS, type AdvStdScaling } from "./advantages.ts";
import { LOSS_AGGS, type LossAgg } from "./grpo.ts";
import { KL_ESTIMATORS, type KlEstimator } from "./kl.ts";
import { LR_SCHEDULES, type LrScheduleName } from "./schedule.ts";
import { RESERVED_CHAT_TEMPLATE_VARIABLES } from "../tokenizer/chat_template.ts";

/** Value types a config key may have. */
export type FieldType = "string" | "int" | "number" | "bool" | "string[]" | "number[]" | "mapping";

/** One config key: what it accepts (a zod schema), its default and its doc. */
export interface ConfigField<T = unknown> {
  /**
   * The values the key accepts, e.g. `z.number().int().min(1)` or `z.enum([...]).nullable()`; its JSON
   * Schema gives the key's type and allowed values in messages and docs. A schema that is a mapping
   * (`reward`) is validated as a whole, and `--key.sub value` flags set paths inside it. (Left out of the
   * API docs: it is the schema library's type.)
   *
   * @ignore
   */
  schema: z.ZodType<T>;
  /** One line saying what the key does (rendered into configs/README.md). */
  doc: string;
  /** The default; a key without one is required. */
  default?: T;
}

/** Values that are a single config key (as opposed to a section of keys). */
export type ConfigLeaf = string | number | boolean | null | readonly unknown[];

/** A schema for config type `C`: a {@link ConfigField} per leaf or `mapping`, a nested schema per section. */
export type SchemaOf<C> = {
  [K in keyof C]-?: C[K] extends ConfigLeaf ? ConfigField<C[K]> : SchemaOf<C[K]> | ConfigField<C[K]>;
};

/** A problem with a config: where, which key, what is wrong. */
export interface ConfigIssue {
  /** Dotted key (`algorithm.kl_coef`), or "" for the file as a whole. */
  key: string;
  /** `file:line:col`, `--flag`, or "" when the problem is not tied to one place. */
  where: string;
  /** What is wrong and what would be valid. */
  message: string;
}

/** A complete config description: its fields, section docs and cross-key checks. */
export interface ConfigSpec<C> {
  /** Name used in headings and messages ("GRPO trainer"). */
  title: string;
  /** The keys. */
  fields: SchemaOf<C>;
  /** One line per top-level section, for the docs. */
  sections?: Record<string, string>;
  /** Checks across keys, run once every key is valid on its own. */
  checks?(config: C): ConfigIssue[];
}

/**
 * Raised when a config is invalid; `issues` lists every problem, the message prints them.
 *
 * @example
 * ```ts
 * try {
 *   resolveConfig(GRPO_CONFIG, "model: {pth: m}", "a.yaml");
 * } catch (e) {
 *   if (e instanceof ConfigError) console.error(e.message); // a.yaml:1:9: unknown key model.pth; did you mean model.path?
 * }
 * ```
 */
export class ConfigError extends RlifError {
  /** Every problem found. */
  readonly issues: ConfigIssue[];
  /** Creates the error for `issues` found in `source` (a file name or "config"). */
  constructor(source: string, issues: ConfigIssue[]) {
    const lines = issues.map((i) => `  ${i.where ? `${i.where}: ` : ""}${i.message}`);
    super(
      "config.invalid",
      `invalid ${source} (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n${lines.join("\n")}`,
    );
    this.name = "ConfigError";
    this.issues = issues;
  }
}

/** A resolved config and where each value came from. */
export interface LoadedConfig<C> {
  /** The config with defaults, file values and overrides applied, validated. */
  config: C;
  /** Per dotted key: "default", `file:line`, or the `--flag` that set it. */
  sources: Record<string, string>;
  /** The YAML file read, if any. */
  file: string | null;
}

/** Options of {@link loadConfig} / {@link resolveConfig}. */
export interface LoadConfigOptions {
  /** YAML file to read; a `--config PATH` in `args` replaces it. */
  file?: string;
  /** Command-line arguments: `--config PATH` and `--key value` / `--section.key value` overrides. */
  args?: readonly string[];
}

// ---------------------------------------------------------------------------------------------------------
// Schema walking

function isField(x: unknown): x is ConfigField {
  const o = x as Record<string, unknown>;
  return typeof o === "object" && o !== null && o.schema instanceof z.ZodType && typeof o.doc === "string";
}

/**
 * Every `[dotted key, field]` of a schema, in declaration order.
 *
 * @example
 * ```ts
 * schemaFields(GRPO_CONFIG.fields)[0]; // ["model.path", { schema: z.string(), doc: "…" }]
 * ```
 */
export function schemaFields(fields: object): Array<[string, ConfigField]> {
  const out: Array<[string, ConfigField]> = [];
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(node)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (isField(v)) out.push([key, v]);
      else walk(v as Record<string, unknown>, key);
    }
  };
  walk(fields as Record<string, unknown>, "");
  return out;
}

function sectionsOf(fields: Array<[string, ConfigField]>): Set<string> {
  const s = new Set<string>();
  for (const [key] of fields) {
    const parts = key.split(".");
    for (let i = 1; i < parts.length; i++) s.add(parts.slice(0, i).join("."));
  }
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// Values

function formatNumber(n: number): string {
  if (n !== 0 && Math.abs(n) < 1e-3) return n.toExponential().replace(/\.?0+e/, "e").replace("e-0", "e-");
  return String(n);
}

function formatValue(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "number") return formatNumber(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(", ")}]`;
  if (typeof v === "object") {
    return `{${Object.entries(v as object).map(([k, x]) => `${k}: ${formatValue(x)}`).join(", ")}}`;
  }
  return String(v);
}

// deno-lint-ignore no-explicit-any
type JsonSchema = Record<string, any>;

const jsonSchemas = new WeakMap<ConfigField, JsonSchema>();

/** A field's schema as JSON Schema (what its type and allowed values are read from). */
function jsonOf(f: ConfigField): JsonSchema {
  let j = jsonSchemas.get(f);
  if (!j) {
    j = z.toJSONSchema(f.schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
    jsonSchemas.set(f, j);
  }
  return j;
}

/** The JSON Schema without its `null` alternative, and whether null is allowed. */
function withoutNull(j: JsonSchema): { j: JsonSchema; nullable: boolean } {
  if (Array.isArray(j.type) && j.type.includes("null")) {
    const rest = j.type.filter((t: string) => t !== "null");
    return { j: { ...j, type: rest.length === 1 ? rest[0] : rest }, nullable: true };
  }
  const alts = j.anyOf as JsonSchema[] | undefined;
  if (!alts?.some((a) => a.type === "null")) return { j, nullable: false };
  const rest = alts.filter((a) => a.type !== "null");
  return { j: rest.length === 1 ? rest[0] : { anyOf: rest }, nullable: true };
}

function kindOf(j: JsonSchema): FieldType {
  switch (j.type) {
    case "boolean":
      return "bool";
    case "integer":
      return "int";
    case "number":
    case "string":
      return j.type;
    case "array":
      return j.items?.type === "string" ? "string[]" : "number[]";
    default:
      return "mapping";
  }
}

/**
 * The type of a config key, read from its schema: `int`, `number`, `string`, `bool`, `string[]`,
 * `number[]` or `mapping`.
 */
export function fieldType(f: ConfigField): FieldType {
  return kindOf(withoutNull(jsonOf(f)).j);
}

// zod writes the safe-integer range into every integer's JSON Schema; it is no constraint worth naming.
const bound = (n: unknown) => typeof n === "number" && Math.abs(n) < Number.MAX_SAFE_INTEGER;

function rangeText(j: JsonSchema): string {
  const lo = bound(j.exclusiveMinimum)
    ? `> ${formatNumber(j.exclusiveMinimum)}`
    : bound(j.minimum)
    ? `>= ${formatNumber(j.minimum)}`
    : "";
  const hi = bound(j.exclusiveMaximum)
    ? `< ${formatNumber(j.exclusiveMaximum)}`
    : bound(j.maximum)
    ? `<= ${formatNumber(j.maximum)}`
    : "";
  return [lo, hi].filter(Boolean).join(" and ");
}

/** Human description of what a field accepts ("one of a, b", "a number >= 0", ...). */
function allowedText(f: ConfigField): string {
  const { j, nullable } = withoutNull(jsonOf(f));
  const kind = kindOf(j);
  const parts: string[] = [];
  if (j.enum) parts.push(`one of ${j.enum.join(", ")}`);
  else {
    parts.push(
      {
        "string": "a string",
        "int": "an integer",
        "number": "a number",
        "bool": "true or false",
        "string[]": "a list of strings",
        "number[]": "a list of numbers",
        "mapping": "a mapping",
      }[kind],
    );
  }
  if (j.items?.enum) parts.push(`each one of ${j.items.enum.join(", ")}`);
  if (j.minItems !== undefined && j.minItems === j.maxItems) parts.push(`of length ${j.minItems}`);
  const r = rangeText(kind.endsWith("[]") ? j.items ?? {} : j);
  if (r) parts.push(kind.endsWith("[]") ? `each ${r}` : r);
  if (nullable) parts.push("or null");
  return parts.join(" ");
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${formatValue(v)}`;
}

/**
 * Validates `v` with the field's schema: null when allowed, else the first problem in words, naming
 * `key` (`key[i]` for a list element) and what would be valid.
 */
function checkValue(f: ConfigField, v: unknown, key: string): string | null {
  if (fieldType(f) === "mapping") {
    const r = schemaProblems(f.schema, v, key);
    return r.problems ? r.problems.map((p) => p.message).join("; ") : null;
  }
  const parsed = f.schema.safeParse(v);
  if (parsed.success) return null;
  const issue = parsed.error.issues[0];
  const element = typeof issue.path[0] === "number";
  const at = element ? `${key}[${String(issue.path[0])}]` : key;
  const got = element ? (v as unknown[])[issue.path[0] as number] : v;
  const items = withoutNull(jsonOf(f)).j.items ?? {};
  switch (issue.code) {
    case "invalid_type":
      return element
        ? `${at}: expected ${items.type === "string" ? "a string" : "a number"}, got ${typeName(got)}`
        : `${key}: expected ${allowedText(f)}, got ${typeName(v)}`;
    case "invalid_value":
      return `${at}: ${JSON.stringify(got)} is not one of ${issue.values.join(", ")}`;
    case "too_small":
    case "too_big":
      if (issue.origin === "array") {
        const n = issue.code === "too_small" ? issue.minimum : issue.maximum;
        const which = issue.exact ? "" : issue.code === "too_small" ? "at least " : "at most ";
        return `${key}: expected ${which}${n} elements, got ${(v as unknown[]).length}`;
      }
      return element
        ? `${at}: ${formatNumber(got as number)} is out of range; allowed: ${rangeText(items)}`
        : `${key}: ${formatNumber(v as number)} is out of range; allowed: ${allowedText(f)}`;
    default:
      return `${at}: ${issue.message}`;
  }
}

/** Parses a command-line string as the type of `f`; throws a message naming `key` when it cannot. */
function parseFlagValue(f: ConfigField, raw: string, key: string): unknown {
  if (withoutNull(jsonOf(f)).nullable && raw === "null") return null;
  const fail = (what: string): never => {
    throw new Error(`${key}: expected ${what}, got ${JSON.stringify(raw)}`);
  };
  const kind = fieldType(f);
  switch (kind) {
    case "mapping":
      return yamlFlagValue(raw, key);
    case "string":
      return raw;
    case "int":
      if (!/^[+-]?\d+$/.test(raw.trim())) fail(allowedText(f));
      return Number(raw);
    case "number": {
      const n = raw.trim() === "" ? NaN : Number(raw);
      if (!Number.isFinite(n)) fail(allowedText(f));
      return n;
    }
    case "bool": {
      const s = raw.toLowerCase();
      if (["true", "1", "yes", "on"].includes(s)) return true;
      if (["false", "0", "no", "off"].includes(s)) return false;
      return fail("true or false");
    }
    case "string[]":
    case "number[]": {
      if (raw.trim().startsWith("[")) {
        const doc = parseDocument(raw);
        if (doc.errors.length) fail(`a list (${doc.errors[0].message.split("\n")[0]})`);
        return doc.toJS();
      }
      const parts = raw.trim() === "" ? [] : raw.split(",").map((s) => s.trim());
      if (kind === "string[]") return parts;
      return parts.map((p) => {
        const n = p === "" ? NaN : Number(p);
        return Number.isFinite(n) ? n : fail("a comma-separated list of numbers");
      });
    }
  }
}

/** A flag's value read as YAML (a scalar, or a flow list or mapping such as `[{name: a}]`). */
function yamlFlagValue(raw: string, key: string): unknown {
  const doc = parseDocument(raw);
  if (doc.errors.length) throw new Error(`${key}: ${doc.errors[0].message.split("\n")[0]}`);
  return doc.toJS();
}

/** The keys a mapping field's schema knows, over all its variants (`name`, `scorer`, `power`, …). */
function mappingKeys(f: ConfigField): string[] {
  const j = jsonOf(f);
  const variants = (j.oneOf ?? j.anyOf ?? [j]) as JsonSchema[];
  return [...new Set(variants.flatMap((v) => Object.keys(v.properties ?? {})))];
}

/** The mapping field a `--field.sub.path` flag reaches into, and the path inside it; null for others. */
function mappingOf(byKey: Map<string, ConfigField>, name: string): { key: string; path: string[] } | null {
  for (const [key, f] of byKey) {
    if (fieldType(f) === "mapping" && name.startsWith(`${key}.`)) {
      return { key, path: name.slice(key.length + 1).split(".") };
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// Overrides

/** One `--key value` override, resolved to its dotted key. */
export interface ConfigOverride {
  /** Dotted key it sets. */
  key: string;
  /** The flag as written (for messages). */
  flag: string;
  /** The raw string value. */
  raw: string;
}

/**
 * Splits command-line arguments into the `--config` path and key overrides. A flag is `--section.key`
 * or, when unambiguous, just `--key` (`--lr` for `train.lr`); the value is the next argument or follows
 * `=`. A bool flag without a value means true. Unknown flags are issues, with the closest key.
 *
 * @example
 * ```ts
 * parseOverrides(GRPO_CONFIG, ["--config", "a.yaml", "--lr", "1e-5"]);
 * // { config: "a.yaml", overrides: [{ key: "train.lr", flag: "--lr", raw: "1e-5" }], issues: [] }
 * ```
 */
export function parseOverrides<C>(
  spec: ConfigSpec<C>,
  args: readonly string[],
): { config: string | null; overrides: ConfigOverride[]; issues: ConfigIssue[] } {
  const fields = schemaFields(spec.fields);
  // A mapping's own keys (reward.scorer, reward.power, …) may be set, and named bare, like any other key.
  // A free-form mapping (data.chat_template_kwargs) has no keys of its own; it is named by itself.
  const known = fields.flatMap(([k, f]) => {
    if (fieldType(f) !== "mapping") return [k];
    const keys = mappingKeys(f);
    return keys.length > 0 ? keys.map((m) => `${k}.${m}`) : [k];
  });
  const byKey = new Map(fields);
  const issues: ConfigIssue[] = [];
  const overrides: ConfigOverride[] = [];
  let config: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--") || arg === "--") {
      issues.push({
        key: "",
        where: arg,
        message: `unexpected argument ${JSON.stringify(arg)}; use --key value`,
      });
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let key: string | null = byKey.has(name) || mappingOf(byKey, name) ? name : null;
    if (key === null && name !== "config") {
      const leafMatches = known.filter((k) => k.split(".").pop() === name);
      if (leafMatches.length === 1) key = leafMatches[0];
      else if (leafMatches.length > 1) {
        issues.push({
          key: name,
          where: `--${name}`,
          message: `ambiguous key ${name}; write one of ${leafMatches.map((k) => `--${k}`).join(", ")}`,
        });
        if (eq < 0 && i + 1 < args.length && !args[i + 1].startsWith("--")) i++;
        continue;
      }
    }
    const field = key === null ? undefined : byKey.get(key);
    const isBool = field !== undefined && fieldType(field) === "bool";
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
      if (isBool && !/^(true|false|1|0|yes|no|on|off)$/i.test(args[i + 1])) raw = "true";
      else raw = args[++i];
    } else if (isBool) raw = "true";
    else {
      issues.push({ key: key ?? name, where: `--${name}`, message: `--${name} needs a value` });
      continue;
    }
    if (name === "config") {
      config = raw;
      continue;
    }
    if (key === null) {
      const near = closestKey(name, known);
      issues.push({
        key: name,
        where: `--${name}`,
        message: `unknown key ${name}${near ? `; did you mean --${near}?` : ""}`,
      });
      continue;
    }
    overrides.push({ key, flag: `--${name}`, raw });
  }
  return { config, overrides, issues };
}

// ---------------------------------------------------------------------------------------------------------
// Resolution

function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split(".");
  let o = obj;
  for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Record<string, unknown>;
  o[parts[parts.length - 1]] = value;
}

function getPath(obj: unknown, key: string): unknown {
  let o = obj as Record<string, unknown> | undefined;
  for (const p of key.split(".")) o = o?.[p] as Record<string, unknown> | undefined;
  return o;
}

/**
 * Problems with a schema's own defaults (a default outside its range or choices); empty when sound.
 *
 * @example
 * ```ts
 * checkSchema(GRPO_CONFIG); // []
 * ```
 */
export function checkSchema<C>(spec: ConfigSpec<C>): string[] {
  const out: string[] = [];
  for (const [key, f] of schemaFields(spec.fields)) {
    if (f.default === undefined) continue;
    const p = checkValue(f, structuredClone(f.default), key);
    if (p) out.push(`default of ${p}`);
  }
  return out;
}

/** A copy of `config` with keys in schema order (so printed configs read like the docs). */
function inSchemaOrder<C>(spec: ConfigSpec<C>, config: unknown): Record<string, unknown> {
  const ordered: Record<string, unknown> = {};
  for (const [key] of schemaFields(spec.fields)) {
    const v = getPath(config, key);
    if (v !== undefined) setPath(ordered, key, v);
  }
  return ordered;
}

/**
 * The config made of every default (required keys without a default are left out).
 *
 * @example
 * ```ts
 * defaultConfig(GRPO_CONFIG).rollout?.n; // 8
 * ```
 */
export function defaultConfig<C>(spec: ConfigSpec<C>): Partial<C> {
  const out: Record<string, unknown> = {};
  for (const [key, f] of schemaFields(spec.fields)) {
    if (f.default !== undefined) setPath(out, key, structuredClone(f.default));
  }
  return out as Partial<C>;
}

interface YamlValue {
  key: string;
  value: unknown;
  where: string;
  /** For a mapping field: where the value at a path inside it was written. */
  locate?: (path: readonly PropertyKey[]) => string;
}

function readYaml(
  text: string,
  fileName: string,
  fields: Array<[string, ConfigField]>,
  issues: ConfigIssue[],
): YamlValue[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const at = (node: Node | null | undefined) => {
    const off = node?.range?.[0];
    if (off === undefined) return fileName;
    const { line, col } = lc.linePos(off);
    return `${fileName}:${line}:${col}`;
  };
  for (const e of doc.errors) {
    const pos = e.linePos?.[0];
    issues.push({
      key: "",
      where: pos ? `${fileName}:${pos.line}:${pos.col}` : fileName,
      message: `YAML syntax error: ${e.message.split("\n")[0]}`,
    });
  }
  if (doc.errors.length) return [];
  const byKey = new Map(fields);
  const sections = sectionsOf(fields);
  const known = fields.map(([k]) => k);
  const out: YamlValue[] = [];
  const walk = (map: YAMLMap, prefix: string) => {
    for (const pair of map.items) {
      const keyNode = pair.key as Scalar | null;
      const name = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const key = prefix ? `${prefix}.${name}` : name;
      const valueNode = pair.value as Node | null;
      if (byKey.has(key)) {
        const where = at(valueNode ?? keyNode);
        out.push({
          key,
          value: valueNode === null ? null : (valueNode as Node).toJS(doc),
          where,
          locate: (path) => {
            // The deepest node that exists on the path (an unknown key points at its own value).
            for (let n = path.length; n > 0; n--) {
              const node = isMap(valueNode) || isSeq(valueNode)
                ? valueNode.getIn(path.slice(0, n), true)
                : null;
              if (node && typeof node === "object") return at(node as Node);
            }
            return where;
          },
        });
      } else if (sections.has(key)) {
        if (valueNode === null || (isScalar(valueNode) && valueNode.value === null)) continue;
        if (!isMap(valueNode)) {
          const children = known.filter((k) => k.startsWith(`${key}.`)).map((k) => k.slice(key.length + 1));
          issues.push({
            key,
            where: at(valueNode),
            message: `${key} is a section; expected a mapping with keys ${children.join(", ")}`,
          });
          continue;
        }
        walk(valueNode, key);
      } else {
        const near = closestKey(key, known);
        issues.push({
          key,
          where: at(keyNode),
          message: `unknown key ${key}${near ? `; did you mean ${near}?` : ""}`,
        });
      }
    }
  };
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return out;
  if (!isMap(root)) {
    issues.push({
      key: "",
      where: at(root),
      message: `the top level must be a mapping of sections (${
        [...sections].filter((s) => !s.includes(".")).join(", ")
      })`,
    });
    return out;
  }
  walk(root, "");
  return out;
}

/**
 * Resolves a config from YAML text and overrides without touching the file system: defaults, then the
 * YAML values, then `--key value` overrides; validates every key and the cross-key checks, and throws a
 * {@link ConfigError} listing all problems.
 *
 * @example
 * ```ts
 * const { config } = resolveConfig(GRPO_CONFIG, "model:\n  path: m\n", "a.yaml", ["--lr", "1e-5"]);
 * config.train.lr; // 1e-5
 * ```
 */
export function resolveConfig<C>(
  spec: ConfigSpec<C>,
  yamlText: string | null,
  fileName: string | null,
  args: readonly string[] = [],
): LoadedConfig<C> {
  const fields = schemaFields(spec.fields);
  const byKey = new Map(fields);
  const issues: ConfigIssue[] = [];
  const config = defaultConfig(spec) as Record<string, unknown>;
  const sources: Record<string, string> = {};
  for (const [key, f] of fields) if (f.default !== undefined) sources[key] = "default";

  // Mapping fields are validated once, after the file and every `--key.sub` flag are merged in.
  const mappings = new Map<string, { value: unknown; locate?: YamlValue["locate"]; where: string }>();
  for (const [key, f] of fields) {
    if (fieldType(f) === "mapping") {
      mappings.set(key, { value: structuredClone(f.default), where: fileName ?? "" });
    }
  }
  const apply = (key: string, value: unknown, where: string, locate?: YamlValue["locate"]) => {
    const f = byKey.get(key)!;
    if (fieldType(f) === "mapping") {
      mappings.set(key, { value, where, locate });
      sources[key] = where;
      return;
    }
    const problem = checkValue(f, value, key);
    if (problem) issues.push({ key, where, message: problem });
    else {
      setPath(config, key, value);
      sources[key] = where;
    }
  };
  if (yamlText !== null) {
    for (const v of readYaml(yamlText, fileName ?? "config", fields, issues)) {
      apply(v.key, v.value, v.where, v.locate);
    }
  }
  const parsed = parseOverrides(spec, args);
  issues.push(...parsed.issues);
  for (const o of parsed.overrides) {
    const inner = byKey.has(o.key) ? null : mappingOf(byKey, o.key);
    if (inner) {
      let value: unknown;
      try {
        value = yamlFlagValue(o.raw, o.key);
      } catch (e) {
        issues.push({ key: o.key, where: o.flag, message: (e as Error).message });
        continue;
      }
      const m = mappings.get(inner.key)!;
      const root = (typeof m.value === "object" && m.value !== null ? m.value : {}) as Record<
        string,
        unknown
      >;
      setPath(root, inner.path.join("."), value);
      mappings.set(inner.key, { ...m, value: root });
      sources[o.key] = o.flag;
      continue;
    }
    let value: unknown;
    try {
      value = parseFlagValue(byKey.get(o.key)!, o.raw, o.key);
    } catch (e) {
      issues.push({ key: o.key, where: o.flag, message: (e as Error).message });
      continue;
    }
    apply(o.key, value, o.flag);
  }
  for (const [key, m] of mappings) {
    const r = schemaProblems(byKey.get(key)!.schema, m.value, key);
    if (r.problems) {
      for (const p of r.problems) {
        const flag = Object.keys(sources).find((k) => k.startsWith(`${key}.`) && sources[k].startsWith("--"));
        issues.push({
          key,
          where: m.locate?.(p.path) ?? (flag ? sources[flag] : m.where),
          message: p.message,
        });
      }
    } else setPath(config, key, r.value);
  }
  for (const [key, f] of fields) {
    if (f.default === undefined && getPath(config, key) === undefined && !issues.some((i) => i.key === key)) {
      issues.push({
        key,
        where: fileName ?? "",
        message: `${key} is required (${f.doc.replace(/\.$/, "")}); set it in the YAML file or pass --${key}`,
      });
    }
  }
  if (issues.length === 0 && spec.checks) {
    for (const issue of spec.checks(config as C)) {
      // Point cross-key problems at the place that set the key when there is one.
      // A mapping set key by key (`--data.chat_template_kwargs.messages`) has sources only inside it.
      const own = sources[issue.key];
      const src = own !== undefined && own !== "default"
        ? own
        : Object.entries(sources).find(([k]) => k.startsWith(`${issue.key}.`))?.[1] ?? own;
      issues.push(issue.where || !src || src === "default" ? issue : { ...issue, where: src });
    }
  }
  if (issues.length) throw new ConfigError(fileName ?? "config", issues);
  return { config: inSchemaOrder(spec, config) as C, sources, file: fileName };
}

/**
 * Reads and resolves a config: the YAML file from `--config PATH` in `args` (else `options.file`, else
 * none), defaults, then overrides from `args`; throws a {@link ConfigError} naming every problem.
 *
 * @example
 * ```ts
 * const { config } = await loadConfig(GRPO_CONFIG, { file: "configs/grpo.yaml", args: Deno.args });
 * ```
 */
export async function loadConfig<C>(
  spec: ConfigSpec<C>,
  options: LoadConfigOptions = {},
): Promise<LoadedConfig<C>> {
  const args = options.args ?? [];
  const file = parseOverrides(spec, args).config ?? options.file ?? null;
  let text: string | null = null;
  if (file !== null) {
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      throw new ConfigError(file, [{
        key: "",
        where: file,
        message: `cannot read the config file: ${(e as Error).message}`,
      }]);
    }
  }
  return resolveConfig(spec, text, file, args);
}

/**
 * The config as YAML with each key's doc as a comment above it (what a run directory's config.yaml
 * holds, so a run can be repeated with `--config runs/…/config.yaml`).
 *
 * @example
 * ```ts
 * const yamlText = configToYaml(GRPO_CONFIG, config);
 * ```
 */
export function configToYaml<C>(spec: ConfigSpec<C>, config: C): string {
  const doc = new Document(inSchemaOrder(spec, config));
  for (const [key, f] of schemaFields(spec.fields)) {
    const parts = key.split(".");
    const parent = parts.length === 1 ? doc.contents : doc.getIn(parts.slice(0, -1), true);
    if (!isMap(parent)) continue;
    const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === parts[parts.length - 1]);
    if (pair && isScalar(pair.key)) pair.key.commentBefore = ` ${f.doc}`;
  }
  if (spec.sections && isMap(doc.contents)) {
    for (const pair of doc.contents.items) {
      if (isScalar(pair.key) && spec.sections[String(pair.key.value)]) {
        pair.key.commentBefore = ` ${spec.sections[String(pair.key.value)]}`;
      }
    }
  }
  // Keep numbers like 3e-6 in exponent form instead of 0.000003.
  return doc.toString({ lineWidth: 0 }).replace(/(?<=: )0\.0{3,}\d+$/gm, (m) => formatNumber(Number(m)));
}

// ---------------------------------------------------------------------------------------------------------
// Docs

function cell(s: string): string {
  return s.replace(/\|/g, "\\|");
}

function typeText(f: ConfigField): string {
  return `${fieldType(f)}${withoutNull(jsonOf(f)).nullable ? " \\| null" : ""}`;
}

function allowedCell(f: ConfigField): string {
  if (fieldType(f) === "mapping") return "";
  const { j } = withoutNull(jsonOf(f));
  const parts: string[] = [];
  const choices = j.enum ?? j.items?.enum;
  if (choices) parts.push(choices.map((c: string) => `\`${c}\``).join(", "));
  const r = rangeText(j.type === "array" ? j.items ?? {} : j);
  if (r) parts.push(r);
  if (j.minItems !== undefined && j.minItems === j.maxItems) parts.push(`length ${j.minItems}`);
  return cell(parts.join("; "));
}

function jsonType(p: JsonSchema): string {
  if (p.const !== undefined) return "string";
  if (p.enum) return "string";
  // A union of plain values (a list of names or one pattern) reads as its alternatives.
  const alternatives = (p.anyOf ?? []) as JsonSchema[];
  if (alternatives.length > 0 && alternatives.every((v) => v.type !== "object")) {
    return alternatives.map(jsonType).join(" \\| ");
  }
  if (p.type === "array") return "list";
  if (p.type === "object" || p.oneOf || p.anyOf) return "mapping";
  return p.type === "integer" ? "int" : String(p.type ?? "any");
}

function jsonAllowed(p: JsonSchema): string {
  const parts: string[] = [];
  if (p.enum) parts.push(p.enum.map((c: unknown) => `\`${c}\``).join(", "));
  const r = rangeText(p);
  if (r) parts.push(r);
  if (p.minItems !== undefined) parts.push(`at least ${p.minItems}`);
  return cell(parts.join("; "));
}

/** Rows for the keys of each variant of a mapping field (`reward.power` when name is borda_vote, …). */
function mappingRows(key: string, schema: z.ZodType): string[] {
  const rows: string[] = [];
  variantRows(
    key,
    z.toJSONSchema(schema, { io: "output", unrepresentable: "any" }) as JsonSchema,
    rows,
    new Set(),
  );
  return rows;
}

/**
 * Rows for a mapping that is one of several variants told apart by `name`: the name's choices, the keys
 * every variant has, then each variant's own keys as `key.option (variant)`; nested variant mappings
 * (a shaping, a list of hybrid terms) follow the same way, each kind once.
 */
function variantRows(key: string, j: JsonSchema, rows: string[], seen: Set<string>): void {
  // A nullable mapping (model.lora) is its one object variant; null is said in the field's own row.
  const variants = ((j.oneOf ?? j.anyOf ?? [j]) as JsonSchema[]).filter((v) => v.type !== "null");
  const propsOf = (v: JsonSchema) => (v.properties ?? {}) as Record<string, JsonSchema>;
  const common = Object.keys(propsOf(variants[0])).filter((k) => variants.every((v) => k in propsOf(v)));
  const nested: Array<[string, JsonSchema]> = [];
  const row = (k: string, p: JsonSchema, when = "") => {
    const def = p.default === undefined ? "" : `\`${cell(formatValue(p.default))}\``;
    rows.push(
      `| \`${key}.${k}\`${when} | ${jsonType(p)} | ${def} | ${jsonAllowed(p)} | ${
        cell(p.description ?? "")
      } |`,
    );
    const inner = p.type === "array" ? p.items : p;
    if (inner?.oneOf && !seen.has(JSON.stringify(inner.oneOf))) {
      seen.add(JSON.stringify(inner.oneOf));
      nested.push([`${key}.${k}${p.type === "array" ? "[]" : ""}`, inner]);
    }
  };
  const names = variants.map((v) => propsOf(v).name?.const).filter((n) => n !== undefined);
  if (names.length > 0) {
    rows.push(`| \`${key}.name\` | string | | ${names.map((n) => `\`${n}\``).join(", ")} | Which kind. |`);
  }
  for (const k of common) if (k !== "name") row(k, propsOf(variants[0])[k]);
  for (const v of variants) {
    for (const [k, p] of Object.entries(propsOf(v))) {
      if (!common.includes(k)) row(k, p, ` (${propsOf(v).name?.const})`);
    }
  }
  for (const [k, inner] of nested) variantRows(k, inner, rows, seen);
}

/**
 * Markdown reference of a schema: per section, a table of every key with type, default, allowed values
 * and doc; a mapping key (`reward`) lists each variant's keys as `key.option (variant)`.
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("configs/README.md", renderConfigDocs(GRPO_CONFIG));
 * ```
 */
export function renderConfigDocs<C>(spec: ConfigSpec<C>): string {
  const fields = schemaFields(spec.fields);
  const lines: string[] = [
    `# ${spec.title} configuration`,
    "",
    "Generated from the schema in lib/rl/config.ts by `renderConfigDocs`; do not edit by hand.",
    "",
    "Every key below may be set in the YAML file (nested by section) or on the command line as",
    "`--section.key value` (or `--key value` when the key name is unique). Values are validated before any",
    "work starts; keys that are not listed here are rejected.",
    "",
  ];
  let section = "";
  for (let n = 0; n < fields.length; n++) {
    const [key, f] = fields[n];
    const top = key.split(".")[0];
    if (top !== section) {
      section = top;
      lines.push(`## \`${section}\``, "");
      if (spec.sections?.[section]) lines.push(spec.sections[section], "");
      lines.push("| key | type | default | allowed | description |", "| --- | --- | --- | --- | --- |");
    }
    const def = f.default === undefined ? "_(required)_" : `\`${cell(formatValue(f.default))}\``;
    lines.push(`| \`${key}\` | ${typeText(f)} | ${def} | ${allowedCell(f)} | ${cell(f.doc)} |`);
    // A free-form mapping (data.chat_template_kwargs) has no keys to list.
    if (fieldType(f) === "mapping" && mappingKeys(f).length > 0) lines.push(...mappingRows(key, f.schema));
    if (n + 1 === fields.length || fields[n + 1][0].split(".")[0] !== section) lines.push("");
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------------------
// The GRPO trainer's schema

/** The resolved configuration the GRPO trainer runs from; every key is documented in {@link GRPO_CONFIG} (configs/README.md). */
export interface GrpoConfig {
  /** The policy. */
  model: { path: string; lora: LoraConfig | null };
  /** Prompts. */
  data: {
    path: string | null;
    preset: string | null;
    fields: { problem: string | null; answer: string | null };
    template: string;
    chat_template: boolean;
    chat_template_kwargs: Record<string, unknown>;
    limit: number | null;
    synthetic: {
      task: "arithmetic" | "countdown";
      count: number;
      seed: number;
      min_operand: number;
      max_operand: number;
      ops: string[];
      format: "question" | "compact";
      num_count: number;
    };
  };
  /** Sampling of the G completions per prompt. */
  rollout: {
    n: number;
    temperature: number;
    top_p: number;
    top_k: number;
    max_new_tokens: number;
    stop: string[];
    batch: number;
    weights: "bf16" | "f16" | "f32";
    engine: "local" | "openai";
    endpoints: string[];
    model: string | null;
    api_key: string | null;
    timeout_s: number;
    retries: number;
    sync: "none" | "disk";
    sync_dir: string | null;
    reload: "update_weights_from_disk" | "collective_rpc" | "load_lora_adapter";
    engine_logprobs: "processed" | "raw";
  };
  /** The reward. */
  reward: RewardConfig;
  /**
   * How correctness is judged: the run's grader (see {@link runGrader}) and where a Countdown answer is
   * read (see {@link runCountdownRule}).
   */
  grading: { grader: GraderName | null; countdown_rule: CountdownRule | null };
  /** GRPO objective. */
  algorithm: {
    adv_std: AdvStdScaling;
    adv_eps: number;
    clip_low: number;
    clip_high: number;
    dual_clip: number | null;
    kl_coef: number;
    kl_estimator: KlEstimator;
    loss_agg: LossAgg;
    ratio: GrpoRatio;
    ppo_epochs: number;
  };
  /** Optimisation. */
  train: {
    steps: number;
    prompts_per_step: number;
    mini_batch: number | null;
    micro_batch: number;
    recompute: boolean;
    lr: number;
    schedule: LrScheduleName;
    warmup_steps: number;
    warmup_ratio: number;
    min_lr_ratio: number;
    weight_decay: number;
    betas: number[];
    eps: number;
    grad_clip: number;
    seed: number;
  };
  /** The GPU the run is planned for. */
  gpu: { memory_gb: number | null; prompt_tokens: number };
  /** Run directory, logging and checkpoints. */
  log: {
    dir: string;
    name: string;
    every: number;
    save_every: number;
    resume: string | null;
    kl_to_ref: boolean;
  };
}

/** `model.lora`: PEFT's LoraConfig under short names (lib/model/lora.ts). */
export interface LoraConfig {
  /** Rank r. */
  r: number;
  /** lora_alpha. */
  alpha: number;
  /** lora_dropout (0: rlif trains without dropout). */
  dropout: number;
  /** target_modules. */
  target_modules: string[] | string;
  /** use_rslora. */
  use_rslora: boolean;
}

const LORA_CONFIG_SCHEMA: z.ZodType<LoraConfig | null> = z.strictObject({
  r: z.number().int().min(1).default(8).describe("Rank r of A [r, in] and B [out, r] (PEFT's r)."),
  alpha: z.number().gt(0).default(8).describe(
    "lora_alpha: the adapter's term is scaled by alpha / r (alpha / sqrt(r) with use_rslora).",
  ),
  dropout: z.number().refine((v) => v === 0, {
    message: "rlif does not implement LoRA dropout; set model.lora.dropout 0 (PEFT's default)",
  }).default(0).describe("lora_dropout; rlif trains without dropout, so 0 (PEFT's default)."),
  target_modules: z.union([z.array(z.string()).min(1), z.string()]).default(["q_proj", "v_proj"]).describe(
    "Projections adapted: names matched as PEFT matches them (q_proj, k_proj, v_proj, o_proj, gate_proj, " +
      "up_proj, down_proj; a dotted suffix such as mlp.down_proj), all-linear, or a regular expression over " +
      "the module names (model.layers.N.self_attn.q_proj). PEFT's default for these families: q_proj, v_proj.",
  ),
  use_rslora: z.boolean().default(false).describe(
    "use_rslora: scale by alpha / sqrt(r) (rank-stabilised LoRA).",
  ),
}).nullable();

/** A string schema for one of `values` (the names a module exports). */
const oneOf = <T extends string>(values: readonly T[]) => z.enum(values as [T, ...T[]]);

const GRPO_FIELDS: SchemaOf<GrpoConfig> = {
  model: {
    path: { schema: z.string(), doc: "Model directory with config.json, *.safetensors and tokenizer.json." },
    lora: {
      schema: LORA_CONFIG_SCHEMA,
      default: null,
      doc: "Train a LoRA adapter instead of every weight: {r, alpha, dropout, target_modules, use_rslora} " +
        "(PEFT's names and defaults: r 8, alpha 8, dropout 0, target_modules [q_proj, v_proj]). The base " +
        "stays frozen at its checkpoint width, the adapter and its AdamW state are f32, the reference policy " +
        "is the base with the adapter off, and checkpoints are PEFT folders (adapter_config.json, " +
        "adapter_model.safetensors). null: full fine-tuning.",
    },
  },
  data: {
    path: {
      schema: z.string().nullable(),
      default: null,
      doc: "Dataset file (.jsonl, .json or .parquet); null generates the data.synthetic task instead.",
    },
    preset: {
      schema: oneOf(Object.keys(DATASET_PRESETS)).nullable(),
      default: null,
      doc: "Field mapping of a published dataset (math500, math12k, gsm8k, dapo17k, countdown).",
    },
    fields: {
      problem: {
        schema: z.string().nullable(),
        default: null,
        doc: "Field path of the question in a row (e.g. question, prompt[0].content); overrides the preset.",
      },
      answer: {
        schema: z.string().nullable(),
        default: null,
        doc: "Field path of the ground-truth answer; overrides the preset. Label-free runs may have none.",
      },
    },
    template: {
      schema: z.string(),
      default: "configs/templates/intuitor_boxed.jinja",
      doc:
        "Jinja prompt template file; the row's fields are its variables (configs/templates/ has the papers').",
    },
    chat_template: {
      schema: z.boolean(),
      default: true,
      doc: "Render the prompt through the tokenizer's chat template (instruct models); false feeds it raw.",
    },
    chat_template_kwargs: {
      schema: z.record(z.string(), z.unknown()),
      default: {},
      doc: "Extra chat template variables, e.g. {enable_thinking: false} for Qwen3 (a flag sets one: " +
        "--data.chat_template_kwargs.enable_thinking false).",
    },
    limit: {
      schema: z.number().int().min(1).nullable(),
      default: null,
      doc: "Use only the first N rows; null uses all.",
    },
    synthetic: {
      task: {
        schema: z.enum(["arithmetic", "countdown"]),
        default: "arithmetic",
        doc: "Task generated when data.path is null.",
      },
      count: { schema: z.number().int().min(1), default: 1000, doc: "Number of generated problems." },
      seed: { schema: z.number().int().min(0), default: 0, doc: "Seed of the problem generator." },
      min_operand: { schema: z.number().int().min(0), default: 0, doc: "Smallest arithmetic operand." },
      max_operand: { schema: z.number().int().min(1), default: 99, doc: "Largest arithmetic operand." },
      ops: {
        schema: z.array(z.string()),
        default: ["+"],
        doc: "Arithmetic operators to draw from (+, -, *).",
      },
      format: {
        schema: z.enum(["question", "compact"]),
        default: "question",
        doc: "Arithmetic problem text: question = 'What is 3 + 5?', compact = '3+5='.",
      },
      num_count: {
        schema: z.number().int().min(2).max(6),
        default: 4,
        doc: "Countdown: numbers per problem.",
      },
    },
  },
  rollout: {
    n: {
      schema: z.number().int().min(1).refine(
        (n) => n >= 2,
        "GRPO needs at least 2 samples per prompt (advantages are relative to the group); set >= 2",
      ),
      default: 8,
      doc: "Samples per prompt G (Intuitor: 8); GRPO needs at least 2.",
    },
    temperature: { schema: z.number().gt(0), default: 1, doc: "Sampling temperature (TRL: 1.0)." },
    top_p: { schema: z.number().gt(0).max(1), default: 1, doc: "Nucleus sampling mass; 1 disables it." },
    top_k: {
      schema: z.number().int().min(0),
      default: 0,
      doc: "Keep only the k most likely tokens; 0 disables it.",
    },
    max_new_tokens: {
      schema: z.number().int().min(1),
      default: 512,
      doc: "Longest completion in tokens (Intuitor used 3072 on server GPUs).",
    },
    stop: {
      schema: z.array(z.string()),
      default: [],
      doc: "Extra stop strings besides the tokenizer's end-of-sequence tokens.",
    },
    batch: {
      schema: z.number().int().min(1),
      default: 64,
      doc:
        "Rows (prompt × sample) decoded together by the local engine: the KV cache holds batch × (prompt + " +
        "max_new_tokens) positions, so long completions want fewer (deno task plan shows the cost).",
    },
    weights: {
      schema: z.enum(["bf16", "f16", "f32"]),
      default: "bf16",
      doc: "Width of the sampling copy of the f32 policy, refreshed after each update (f32: no copy); with " +
        "model.lora, the adapter merged into the adapted projections at this width (the base's other " +
        "tensors shared when it has this width).",
    },
    engine: {
      schema: z.enum(["local", "openai"]),
      default: "local",
      doc:
        "What samples the rollouts: local (the sampling copy, in process) or openai (the OpenAI-compatible " +
        "servers of rollout.endpoints: vLLM, SGLang or `deno task serve`; docs/scale-out.md).",
    },
    endpoints: {
      schema: z.array(z.string()),
      default: [],
      doc:
        "Base URLs of the rollout.engine openai replicas (e.g. http://host:8000); each prompt group goes " +
        "to one of them, round-robin, and to another when it fails.",
    },
    model: {
      schema: z.string().nullable(),
      default: null,
      doc: "Model name sent with each request; null sends model.path (what vLLM and SGLang call a model " +
        "served from that path).",
    },
    api_key: {
      schema: z.string().nullable(),
      default: null,
      doc: "Bearer token for the replicas; null reads the RLIF_ROLLOUT_API_KEY environment variable (keeps " +
        "the key out of the run's config.yaml), else sends none.",
    },
    timeout_s: {
      schema: z.number().gt(0),
      default: 600,
      doc: "Seconds one request (one prompt group) may take before it is retried on another replica.",
    },
    retries: {
      schema: z.number().int().min(0),
      default: 2,
      doc: "Further attempts of a failed or timed-out request, each on the next replica.",
    },
    sync: {
      schema: z.enum(["none", "disk"]),
      default: "none",
      doc: "How replicas get the policy: none (they keep what they loaded) or disk (before the first step " +
        "and after each update the sampling weights are written to rollout.sync_dir and every replica " +
        "reloads them through POST /update_weights_from_disk).",
    },
    sync_dir: {
      schema: z.string().nullable(),
      default: null,
      doc: "Directory for rollout.sync disk, on a filesystem every replica reads at the same path; " +
        "<sync_dir>/current always links to the newest complete weights.",
    },
    reload: {
      schema: z.enum(["update_weights_from_disk", "collective_rpc", "load_lora_adapter"]),
      default: "update_weights_from_disk",
      doc: "How a replica is told to reload: update_weights_from_disk (SGLang, `deno task serve`: POST " +
        "/update_weights_from_disk {model_path}), collective_rpc (vLLM started on <sync_dir>/current " +
        "with VLLM_SERVER_DEV_MODE=1: POST /collective_rpc {method: reload_weights}) or, with model.lora, " +
        "load_lora_adapter (vLLM with --enable-lora, `deno task serve`: only the adapter is written, POST " +
        "/v1/load_lora_adapter {lora_name: rlif-lora-step-N, lora_path}, requests then name that adapter " +
        "and the previous one is unloaded).",
    },
    engine_logprobs: {
      schema: z.enum(["processed", "raw"]),
      default: "processed",
      doc: "What the engine's log-probabilities (metadata `rollout_logprob`) are: processed = under the " +
        "sampling temperature, as the learner scores (the local engine; SGLang's default; vLLM with " +
        "--logprobs-mode processed_logprobs), raw = before temperature (vLLM's default raw_logprobs, " +
        "`deno task serve`, SGLang with SGLANG_RETURN_ORIGINAL_LOGPROB=1). rollout/logprob_abs_diff " +
        "compares like with like, so with raw ones it is logged only at rollout.temperature 1.",
    },
  },
  reward: {
    schema: REWARD_CONFIG_SCHEMA,
    default: { name: "self_certainty" } as RewardConfig,
    doc: "The reward: {name, scorer, shaping, ...that reward's options}; see the reward options below.",
  },
  grading: {
    grader: {
      schema: oneOf(GRADERS).nullable(),
      default: null,
      doc: "The run's grader: judges the logged correctness (metadata.jsonl `correct`, accuracy) and " +
        "grades the verifiable rewards that name no grader. null: the grader the reward names, else rlif. " +
        "Set it to follow a paper's grader (e.g. Intuitor: math_verify).",
    },
    countdown_rule: {
      schema: oneOf(COUNTDOWN_RULES).nullable(),
      default: null,
      doc: "Where the logged correctness of a Countdown rollout reads its <answer>: rlif = the last one " +
        "anywhere, tinyzero = on the last line only (TinyZero's countdown.py, URLVR section 7's ground-truth " +
        "scorer). null: the rule of the reward's countdown or self_verify term, else rlif. Set it to judge " +
        "a run whose reward reads no answer (an intrinsic one) as a paper does.",
    },
  },
  algorithm: {
    adv_std: {
      schema: oneOf(ADV_STD_SCALINGS),
      default: "group",
      doc: "Divide advantages by the group std (GRPO), the batch std, or not at all (Dr. GRPO).",
    },
    adv_eps: {
      schema: z.number().gt(0),
      default: 1e-6,
      doc: "Added to the std before dividing (verl: 1e-6; TRL: 1e-4).",
    },
    clip_low: {
      schema: z.number().min(0).lt(1),
      default: 0.2,
      doc: "PPO clip below: ratios under 1 - clip_low stop pushing negative-advantage tokens down.",
    },
    clip_high: {
      schema: z.number().min(0),
      default: 0.2,
      doc:
        "PPO clip above: ratios over 1 + clip_high stop pushing positive-advantage tokens up (DAPO: 0.28).",
    },
    dual_clip: {
      schema: z.number().gt(1).nullable(),
      default: null,
      doc: "Dual-clip bound c > 1 for negative advantages (verl: 3); null disables it.",
    },
    kl_coef: {
      schema: z.number().min(0),
      default: 0.005,
      doc: "Weight beta of the KL-to-reference term (Intuitor: 0.005); 0 skips the reference forward.",
    },
    kl_estimator: {
      schema: oneOf(KL_ESTIMATORS),
      default: "low_var_kl",
      doc:
        "Per-token KL estimator: k1, k2, k3 (Schulman), low_var_kl (verl: k3 clamped to [-10, 10]); + = k2 gradient.",
    },
    loss_agg: {
      schema: oneOf(LOSS_AGGS),
      default: "token-mean",
      doc: "How per-token losses become the scalar loss (verl's loss_agg_mode).",
    },
    ratio: {
      schema: oneOf(GRPO_RATIOS),
      default: "token",
      doc:
        "Importance ratio of the clipped surrogate. token: per token, as verl / EasyR1 / TRL compute it. " +
        "sequence: ρ_i = π(y_i|x) / π_old(y_i|x) = exp Σ_t (logp_new − logp_old) over sequence i's " +
        "response tokens (a sum, not GSPO's mean), clipped once and used for every token of the sequence — " +
        "the GRPO objective as the CoE thesis writes it (§3.2).",
    },
    ppo_epochs: {
      schema: z.number().int().min(1),
      default: 1,
      doc: "Optimisation passes over each batch of rollouts, one update per train.mini_batch each (verl's " +
        "ppo_epochs, TRL's num_iterations).",
    },
  },
  train: {
    steps: {
      schema: z.number().int().min(1),
      default: 100,
      doc: "Optimisation steps (one batch of rollouts each).",
    },
    prompts_per_step: {
      schema: z.number().int().min(1),
      default: 8,
      doc: "Prompts per step; each gets rollout.n samples.",
    },
    mini_batch: {
      schema: z.number().int().min(1).nullable(),
      default: null,
      doc:
        "Prompts per optimizer update (verl's ppo_mini_batch_size): the step's rollouts are split, in order, " +
        "into prompts_per_step / mini_batch updates, each one AdamW step with its own ratio against the " +
        "old log-probs scored once before the first update (CoE thesis §4.6: 'mini-batches define optimizer " +
        "steps'; Listing 1: rollout batch 512, global_batch_size 128). Must divide train.prompts_per_step; " +
        "null: one update per step.",
    },
    micro_batch: {
      schema: z.number().int().min(1),
      default: 8,
      doc: "Sequences per forward/backward; gradients are accumulated over the step's micro-batches.",
    },
    recompute: {
      schema: z.boolean(),
      default: false,
      doc:
        "Recompute each layer's activations in the backward from its saved input (gradient checkpointing, " +
        "CoE thesis §4.2): memory for compute. Qwen2.5-1.5B at 8 × 1024 tokens peaks at 28.2 GiB instead of " +
        "60.2 GiB, for one more forward per micro-batch (~20% more FLOPs); the same gradients.",
    },
    lr: { schema: z.number().gt(0), default: 3e-6, doc: "Peak learning rate (Intuitor: 3e-6)." },
    schedule: {
      schema: oneOf(LR_SCHEDULES),
      default: "cosine",
      doc: "Learning-rate schedule after linear warmup (Intuitor: cosine).",
    },
    warmup_steps: {
      schema: z.number().int().min(0),
      default: 0,
      doc: "Linear warmup steps; 0 uses train.warmup_ratio instead.",
    },
    warmup_ratio: {
      schema: z.number().min(0).max(1),
      default: 0.1,
      doc: "Warmup as a fraction of train.steps, rounded up (Intuitor: 0.1).",
    },
    min_lr_ratio: {
      schema: z.number().min(0).max(1),
      default: 0,
      doc: "Floor of the cosine schedule as a fraction of train.lr.",
    },
    weight_decay: { schema: z.number().min(0), default: 0, doc: "AdamW decoupled weight decay (TRL: 0)." },
    betas: {
      schema: z.array(z.number().min(0).lt(1)).length(2),
      default: [0.9, 0.999],
      doc: "AdamW beta1, beta2.",
    },
    eps: { schema: z.number().gt(0), default: 1e-8, doc: "AdamW epsilon." },
    grad_clip: {
      schema: z.number().min(0),
      default: 1,
      doc: "Clip the global gradient norm to this value (TRL: 1.0); 0 disables clipping.",
    },
    seed: { schema: z.number().int().min(0), default: 42, doc: "Seed for sampling and data order." },
  },
  gpu: {
    memory_gb: {
      schema: z.number().gt(0).nullable(),
      default: null,
      doc:
        "GPU memory in GiB the run must fit: a step whose memory plan is larger is refused before any weight " +
        "loads, naming the keys that would make it fit. null: what nvidia-smi reports, else only a warning.",
    },
    prompt_tokens: {
      schema: z.number().int().min(1),
      default: 1024,
      doc:
        "Prompt length the memory plan assumes (URLVR Table 7's max prompt length 1024); the plan takes every " +
        "completion to rollout.max_new_tokens.",
    },
  },
  log: {
    dir: { schema: z.string(), default: "runs", doc: "Parent directory of run directories." },
    name: {
      schema: z.string().regex(/^[\w.-]+$/, "use letters, digits, '.', '_' and '-' only"),
      default: "grpo",
      doc: "Run name; the run directory is <log.dir>/<name>-<timestamp>.",
    },
    every: {
      schema: z.number().int().min(1),
      default: 1,
      doc: "Print progress every N steps when stderr is not a terminal.",
    },
    save_every: {
      schema: z.number().int().min(0),
      default: 10,
      doc: "Checkpoint every N steps (Intuitor: 10); 0 saves only at the end.",
    },
    resume: {
      schema: z.string().nullable(),
      default: null,
      doc:
        "Run directory to resume from its newest checkpoint that loads, with that run's config; its logs are cut back to that step. Only train.steps (to train a run further), log.save_every and log.every may be overridden.",
    },
    kl_to_ref: {
      schema: z.boolean(),
      default: false,
      doc:
        "Load the reference model even when algorithm.kl_coef is 0 and log the policy's KL to it (URLVR Fig. 7).",
    },
  },
};

function divisors(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n && out.length < 8; d++) if (n % d === 0) out.push(d);
  return out;
}

/** What is wrong with the rollout engine keys taken together. */
function rolloutEngineIssues(r: GrpoConfig["rollout"], lora: LoraConfig | null): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const issue = (key: string, message: string) => issues.push({ key, where: "", message });
  if (r.engine === "openai" && r.endpoints.length === 0) {
    issue(
      "rollout.endpoints",
      "rollout.engine openai needs rollout.endpoints: the replicas' base URLs, e.g. [http://localhost:8000]",
    );
  }
  r.endpoints.forEach((url, i) => {
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch { /* reported below */ }
    if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
      issue(
        `rollout.endpoints[${i}]`,
        `rollout.endpoints[${i}]: ${JSON.stringify(url)} is not an http(s) URL such as http://localhost:8000`,
      );
    }
  });
  if (r.sync === "disk" && r.engine !== "openai") {
    issue(
      "rollout.sync",
      "rollout.sync disk reloads external replicas; it needs rollout.engine openai (or set rollout.sync none)",
    );
  }
  if (r.engine === "local" && r.engine_logprobs === "raw") {
    issue(
      "rollout.engine_logprobs",
      "the local engine's log-probabilities are processed (under the sampling temperature); set " +
        "rollout.engine_logprobs processed",
    );
  }
  if (r.reload === "load_lora_adapter" && lora === null) {
    issue("rollout.reload", "rollout.reload load_lora_adapter syncs a LoRA adapter; it needs model.lora");
  }
  if (r.sync === "disk" && lora !== null && r.reload !== "load_lora_adapter") {
    issue(
      "rollout.reload",
      "with model.lora, rollout.sync disk writes only the adapter: set rollout.reload load_lora_adapter " +
        "(replicas serving the base with LoRA enabled load it)",
    );
  }
  if (r.sync === "disk" && r.sync_dir === null) {
    issue(
      "rollout.sync_dir",
      "rollout.sync disk needs rollout.sync_dir: a directory the replicas read at the same path",
    );
  }
  return issues;
}

function grpoChecks(c: GrpoConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const kwargs = Object.keys(c.data.chat_template_kwargs);
  const reserved = kwargs.filter((k) => RESERVED_CHAT_TEMPLATE_VARIABLES.includes(k));
  if (reserved.length > 0) {
    issues.push({
      key: "data.chat_template_kwargs",
      where: "",
      message: `data.chat_template_kwargs may not set ${reserved.join(", ")}: the trainer sets ` +
        `${RESERVED_CHAT_TEMPLATE_VARIABLES.join(" and ")} itself`,
    });
  }
  if (kwargs.length > 0 && !c.data.chat_template) {
    // Ignoring them would train on prompts other than the ones the config asks for.
    issues.push({
      key: "data.chat_template_kwargs",
      where: "",
      message: `data.chat_template_kwargs (${kwargs.join(", ")}) only reaches the chat template, and ` +
        `data.chat_template is false; set data.chat_template true or remove the kwargs`,
    });
  }
  if (c.data.path !== null && c.data.preset === null && c.data.fields.problem === null) {
    issues.push({
      key: "data.fields.problem",
      where: "",
      message: "a dataset file needs data.preset or data.fields.problem (the field holding the question)",
    });
  }
  const named = rewardGraders(c.reward);
  if (named.length > 1) {
    issues.push({
      key: "reward",
      where: "",
      message: `the reward's terms name graders ${named.join(", ")}; the run logs one correctness, so ` +
        `name one grader (or set grading.grader and leave it out of the terms)`,
    });
  } else if (named.length === 1 && c.grading.grader !== null && named[0] !== c.grading.grader) {
    issues.push({
      key: "grading.grader",
      where: "",
      message: `grading.grader is ${c.grading.grader} but the reward grades with ${named[0]}; the logged ` +
        `correctness must judge as the reward does: make them equal, or name the grader in one place`,
    });
  }
  const rules = rewardCountdownRules(c.reward);
  if (rules.length > 1) {
    issues.push({
      key: "reward",
      where: "",
      message: `the countdown terms use rules ${rules.join(", ")}; the run logs one correctness, so use one`,
    });
  } else if (
    rules.length === 1 && c.grading.countdown_rule !== null && rules[0] !== c.grading.countdown_rule
  ) {
    issues.push({
      key: "grading.countdown_rule",
      where: "",
      message:
        `grading.countdown_rule is ${c.grading.countdown_rule} but the reward reads Countdown answers ` +
        `by rule ${rules[0]}; the logged correctness must judge as the reward does: make them equal, or ` +
        `name the rule in one place`,
    });
  }
  const mini = c.train.mini_batch;
  if (mini !== null && c.train.prompts_per_step % mini !== 0) {
    issues.push({
      key: "train.mini_batch",
      where: "",
      message:
        `train.mini_batch (${mini}) must divide train.prompts_per_step (${c.train.prompts_per_step}); ` +
        `use a divisor such as ${divisors(c.train.prompts_per_step).join(", ")}`,
    });
  }
  issues.push(...rolloutEngineIssues(c.rollout, c.model.lora));
  if (c.train.warmup_steps > c.train.steps) {
    issues.push({
      key: "train.warmup_steps",
      where: "",
      message: `train.warmup_steps (${c.train.warmup_steps}) exceeds train.steps (${c.train.steps})`,
    });
  }
  return issues;
}

/**
 * The GRPO trainer's config schema (defaults follow Intuitor and TRL where they apply).
 *
 * @example
 * ```ts
 * const { config } = await loadConfig(GRPO_CONFIG, { args: ["--config", "configs/intuitor.yaml"] });
 * config.algorithm.kl_estimator; // "low_var_kl" unless the file says otherwise
 * ```
 */
export const GRPO_CONFIG: ConfigSpec<GrpoConfig> = {
  title: "GRPO trainer",
  fields: GRPO_FIELDS,
  sections: {
    model:
      "The policy being trained (also the reference policy for the KL term, frozen at step 0), in full or " +
      "through a LoRA adapter.",
    data: "Where prompts come from and how they are turned into model input.",
    rollout:
      "Sampling of rollout.n completions per prompt: in process, or by OpenAI-compatible replicas kept in sync.",
    reward: "The scalar reward of each completion and its shaping.",
    grading:
      "How answers are judged against the ground truth: one grader (and one Countdown rule) for the reward " +
      "and the logged correctness.",
    algorithm: "The GRPO objective: advantages, clipped surrogate, KL penalty, loss aggregation.",
    train: "Optimisation: steps, batch sizes, AdamW and the learning-rate schedule.",
    gpu: "The GPU the run is planned for: the memory plan (deno task plan, --dry-run) and its limit.",
    log: "Run directory, logging cadence, checkpoints and resuming.",
  },
  checks: grpoChecks,
};

/**
 * The grader a GRPO config runs with: `grading.grader`, else the one its reward names, else rlif. The
 * trainer grades the verifiable rewards that name no grader with it and judges the logged correctness
 * with it, so what is logged as correct is what the reward pays for.
 *
 * @example
 * ```ts
 * const { config } = resolveConfig(GRPO_CONFIG, "model: {path: m}\nreward: {name: math_accuracy, grader: math_verify}", "a.yaml");
 * runGrader(config); // "math_verify"
 * ```
 */
export function runGrader(config: GrpoConfig): GraderName {
  return config.grading.grader ?? rewardGraders(config.reward)[0] ?? "rlif";
}

/**
 * Where a GRPO config's run reads a Countdown answer when it judges correctness: `grading.countdown_rule`,
 * else the rule of its reward's countdown or self_verify term, else rlif — what the reward reads, when it
 * reads one.
 *
 * @example
 * ```ts
 * const { config } = resolveConfig(GRPO_CONFIG, "model: {path: m}\nreward: {name: trajectory_entropy}\ngrading: {countdown_rule: tinyzero}", "a.yaml");
 * runCountdownRule(config); // "tinyzero"
 * ```
 */
export function runCountdownRule(config: GrpoConfig): CountdownRule {
  return config.grading.countdown_rule ?? rewardCountdownRules(config.reward)[0] ?? "rlif";
}
