// Compiled with tsc --strict against the types openapi-typescript generates from the host's
// /openapi.json (TestTypeScriptClient). Every @ts-expect-error line must fail to type-check: a
// document too loose to reject it fails the test.
import type { components, paths } from "./schema";

type InferRequest = paths["/v2/models/{model}/infer"]["post"]["requestBody"]["content"]["application/json"];
type InferResponse = paths["/v2/models/{model}/infer"]["post"]["responses"][200]["content"]["application/json"];
type PredictionRequest = paths["/v1/predictions"]["post"]["requestBody"]["content"]["application/json"];
type PredictionResponse = components["schemas"]["PredictionResponse"];

export const infer: InferRequest = {
  id: "tsc-1",
  inputs: [
    { name: "home_team", datatype: "BYTES", shape: [1], data: ["Arsenal"] },
    { name: "away_team", datatype: "BYTES", shape: [1], data: ["Chelsea"] },
    { name: "competition", datatype: "BYTES", shape: [1], data: ["E0"] },
  ],
  outputs: [{ name: "probabilities" }],
  parameters: { stored_odds: false },
};

// @ts-expect-error a tensor needs its datatype
export const noDatatype: InferRequest = { inputs: [{ name: "home_team", shape: [1], data: ["Arsenal"] }] };
// @ts-expect-error the datatype is one of the protocol's
export const badDatatype: InferRequest = { inputs: [{ name: "home_team", datatype: "TEXT", shape: [1], data: ["Arsenal"] }] };

export function homeProbability(r: InferResponse): number {
  const out = r.outputs.find((o) => o.name === "probabilities");
  const data = out?.data ?? [];
  return typeof data[0] === "number" ? data[0] : NaN;
}

export const predict: PredictionRequest = {
  home_team: "Arsenal",
  away_team: "Chelsea",
  competition: "E0",
  odds: { bookmaker: "Pinnacle", home: 2.1, draw: 3.4, away: 3.6 },
};
// @ts-expect-error home_team is required
export const noHome: PredictionRequest = { away_team: "Chelsea", competition: "E0" };

export function draw(p: PredictionResponse): number {
  return p.probabilities.draw;
}
