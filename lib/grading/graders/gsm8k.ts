/**
 * GSM8K's two published scores, reproduced: EleutherAI/lm-evaluation-harness,
 * lm_eval/tasks/gsm8k/gsm8k.yaml — the "strict-match" filter (`#### (\-?[0-9\.\,]+)`, first match)
 * and the "flexible-extract" filter (`(-?[$0-9.,]{2,})|(-?[0-9]+)`, last match), each followed by
 * `take_first` and the `exact_match` metric with `ignore_case: true`, `ignore_punctuation: false` and
 * `regexes_to_ignore` [`,`, `\$`, `(?s).*#### `, `\.$`] applied to prediction and reference
 * (lm_eval/filters/extraction.py `RegexFilter`, lm_eval/api/metrics.py `exact_match_hf_evaluate`).
 *
 * The extraction and normalisation live in ../extract.ts (`extractGsm8kStrict`,
 * `extractGsm8kFlexible`, `normalizeGsm8k`); this file adds the harness's fallback and verdicts.
 *
 * @module
 */

import { extractGsm8kFlexible, extractGsm8kStrict, normalizeGsm8k } from "../extract.ts";

/** What `RegexFilter` answers when its pattern finds nothing. */
export const GSM8K_FALLBACK = "[invalid]";

/**
 * `exact_match` with gsm8k.yaml's options: both sides lose commas, `$`, everything through the
 * last `#### ` and a final period, then compare case-insensitively.
 *
 * @example
 * ```ts
 * gsm8kExactMatch("$1,200.", "The total is 1200.\n#### 1200"); // true
 * ```
 */
export function gsm8kExactMatch(prediction: string, reference: string): boolean {
  return normalizeGsm8k(prediction) === normalizeGsm8k(reference);
}

/** The "strict-match" filter's output: the number after the first `#### `, else `[invalid]`. */
export function gsm8kStrictFilter(response: string): string {
  return extractGsm8kStrict(response)?.trim() ?? GSM8K_FALLBACK;
}

/** The "flexible-extract" filter's output: the last number-like run, else `[invalid]`. */
export function gsm8kFlexibleFilter(response: string): string {
  return extractGsm8kFlexible(response)?.trim() ?? GSM8K_FALLBACK;
}

/**
 * The harness's strict-match verdict on a response; `gold` is the dataset's answer (a full solution
 * ending in `#### N`, or just `N`).
 */
export function gsm8kStrictGrade(response: string, gold: string): boolean {
  return gsm8kExactMatch(gsm8kStrictFilter(response), gold);
}

/** The harness's flexible-extract verdict on a response; `gold` as for `gsm8kStrictGrade`. */
export function gsm8kFlexibleGrade(response: string, gold: string): boolean {
  return gsm8kExactMatch(gsm8kFlexibleFilter(response), gold);
}
