import { parseMetadataEntry } from "../../lib/log/metadata.ts";
import { SAMPLE } from "./sample_metadata.ts";
import { assertThrowsWith } from "../support/numeric.ts";

Deno.test("metadata entries round-trip through JSON; null numbers come back as NaN", () => {
  const back = parseMetadataEntry(JSON.parse(JSON.stringify(SAMPLE)));
  if (JSON.stringify(back) !== JSON.stringify(SAMPLE)) throw new Error(`round trip: ${JSON.stringify(back)}`);
  const withNaN = structuredClone(SAMPLE);
  withNaN.responses[0].signals.coe.ang = NaN;
  const parsed = parseMetadataEntry(JSON.parse(JSON.stringify(withNaN)));
  if (!Number.isNaN(parsed.responses[0].signals.coe.ang)) throw new Error("NaN did not survive");
  const noRaw = structuredClone(SAMPLE);
  delete noRaw.responses[0].raw_reward;
  if ("raw_reward" in parseMetadataEntry(JSON.parse(JSON.stringify(noRaw))).responses[0]) {
    throw new Error("invented raw reward");
  }
  const noLabel = structuredClone(SAMPLE);
  delete noLabel.pseudo_label;
  if ("pseudo_label" in parseMetadataEntry(JSON.parse(JSON.stringify(noLabel)))) {
    throw new Error("invented label");
  }
});

Deno.test("malformed metadata names the location and field", async () => {
  const bad = JSON.parse(JSON.stringify(SAMPLE));
  bad.responses[0].signals.topGap = "wide";
  await assertThrowsWith(
    () => parseMetadataEntry(bad, "metadata.jsonl:9"),
    "metadata.jsonl:9",
    "responses[0].signals.topGap",
  );
  const bad2 = JSON.parse(JSON.stringify(SAMPLE));
  bad2.responses[0].correct = "yes";
  await assertThrowsWith(() => parseMetadataEntry(bad2), "responses[0].correct", "true, false or null");
  await assertThrowsWith(() => parseMetadataEntry({ ...SAMPLE, step: -1 }), "step must be an integer >= 0");
  const bad3 = structuredClone(SAMPLE) as unknown as { responses: { raw_reward: unknown }[] };
  bad3.responses[0].raw_reward = "high";
  await assertThrowsWith(() => parseMetadataEntry(bad3), "responses[0].raw_reward", "a number");
});

/** SAMPLE with the fields of the thesis's Listing 2 (hidden-state dynamics thesis, Appendix A). */
function listing2Entry(): Record<string, unknown> {
  const e = JSON.parse(JSON.stringify(SAMPLE));
  const second = {
    ...structuredClone(e.responses[0]),
    response_index: 1,
    answer: null,
    correct: false,
    format: false,
  };
  e.responses = [{ ...e.responses[0], response_index: 0, format: true }, second];
  return {
    ...e,
    prompt_index: 2,
    rollout_n: 2,
    question: "What is 6 · 7?",
    ground_truth_available: true,
    model_info: {
      path: "models/tiny",
      arch: "qwen2",
      num_layers: 2,
      hidden_size: 64,
      vocab_size: 300,
      torch_dtype: "bfloat16",
      rollout_weights: "bf16",
    },
  };
}

Deno.test("metadata entries carry Listing 2's fields; entries without them still parse", () => {
  const e = parseMetadataEntry(listing2Entry());
  if (e.prompt_index !== 2 || e.rollout_n !== 2 || e.question !== "What is 6 · 7?") {
    throw new Error(`prompt fields: ${JSON.stringify(e)}`);
  }
  if (e.ground_truth_available !== true || e.model_info?.arch !== "qwen2" || e.model_info.num_layers !== 2) {
    throw new Error(`ground truth / model_info: ${JSON.stringify(e)}`);
  }
  const [a, b] = e.responses;
  if (a.response_index !== 0 || a.format !== true || b.response_index !== 1 || b.format !== false) {
    throw new Error(`responses: ${JSON.stringify(e.responses)}`);
  }
  const noTruth = { ...listing2Entry(), ground_truth: null, ground_truth_available: false, question: null };
  const parsed = parseMetadataEntry(noTruth);
  if (parsed.ground_truth_available !== false || parsed.question !== null) throw new Error("no ground truth");
  // An entry written before these fields existed reads as before, with none of them invented.
  const old = parseMetadataEntry(JSON.parse(JSON.stringify(SAMPLE)));
  for (const k of ["prompt_index", "rollout_n", "question", "ground_truth_available", "model_info"]) {
    if (k in old) throw new Error(`invented ${k}`);
  }
  if ("response_index" in old.responses[0] || "format" in old.responses[0]) {
    throw new Error("invented response fields");
  }
});

Deno.test("bad values in Listing 2's fields are refused by name", async () => {
  const with_ = (patch: Record<string, unknown>) => ({ ...listing2Entry(), ...patch });
  await assertThrowsWith(
    () => parseMetadataEntry(with_({ prompt_index: -1 })),
    "prompt_index",
    "an integer >= 0",
  );
  await assertThrowsWith(() => parseMetadataEntry(with_({ prompt_index: 0.5 })), "prompt_index");
  await assertThrowsWith(() => parseMetadataEntry(with_({ rollout_n: 0 })), "rollout_n", "an integer >= 1");
  await assertThrowsWith(
    () => parseMetadataEntry(with_({ rollout_n: 3 })),
    "rollout_n",
    "number of responses (2)",
  );
  await assertThrowsWith(() => parseMetadataEntry(with_({ question: 7 })), "question", "a string or null");
  await assertThrowsWith(
    () => parseMetadataEntry(with_({ ground_truth_available: "yes" })),
    "ground_truth_available",
    "true or false",
  );
  await assertThrowsWith(
    () => parseMetadataEntry(with_({ ground_truth_available: false })),
    "ground_truth_available must be true",
  );
  await assertThrowsWith(
    () => parseMetadataEntry(with_({ model_info: "qwen" })),
    "model_info must be an object",
  );
  const info = listing2Entry().model_info as Record<string, unknown>;
  await assertThrowsWith(
    () => parseMetadataEntry(with_({ model_info: { ...info, num_layers: "2" } })),
    "model_info.num_layers",
  );
  const swapped = listing2Entry() as { responses: Record<string, unknown>[] };
  swapped.responses[1].response_index = 0;
  await assertThrowsWith(
    () => parseMetadataEntry(swapped),
    "responses[1].response_index",
    "1 (its position)",
  );
  const badFormat = listing2Entry() as { responses: Record<string, unknown>[] };
  badFormat.responses[0].format = 1;
  await assertThrowsWith(() => parseMetadataEntry(badFormat), "responses[0].format", "true or false");
});
