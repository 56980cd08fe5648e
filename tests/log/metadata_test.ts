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
