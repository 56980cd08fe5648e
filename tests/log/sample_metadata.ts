import type { MetadataEntry } from "../../lib/log/metadata.ts";

/** A metadata.jsonl entry in the documented layout, shared by the log tests. */
export const SAMPLE: MetadataEntry = {
  step: 3,
  prompt: "What is 6 · 7?",
  ground_truth: "42",
  responses: [{
    text: "6 · 7 = \\boxed{42}",
    answer: "42",
    correct: true,
    reward: 0.7,
    raw_reward: 1.3,
    length: 37,
    signals: {
      selfCertainty: 1.2,
      meanTokenEntropy: 0.8,
      trajectoryLogprob: -20.1,
      meanLogprob: -0.5,
      topGap: 0.4,
      coe: { d1: 0, d2: 0, mag: 0, ang: 0, r: 0, c: 0 },
    },
  }],
  pseudo_label: "42",
};
