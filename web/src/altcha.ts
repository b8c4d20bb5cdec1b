/** ALTCHA's proof of work (v1, SHA-256), as servicekit/botcheck.py checks it: find the number n
 * with sha256(salt + n) == challenge, then send base64(JSON) of the solution in X-Altcha. */
import type { Schemas } from "./api/client";

type Challenge = Schemas["booking.BotcheckChallenge"];

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const BATCH = 500; // digests in flight at once: the browser hashes them in parallel

export async function solve(challenge: Challenge): Promise<string> {
  for (let first = 0; first <= challenge.maxnumber; first += BATCH) {
    const numbers = Array.from({ length: BATCH }, (_, i) => first + i);
    const hashes = await Promise.all(numbers.map((n) => sha256Hex(challenge.salt + n)));
    const found = hashes.indexOf(challenge.challenge);
    if (found >= 0) {
      const { algorithm, salt, signature } = challenge;
      const number = first + found;
      return btoa(JSON.stringify({ algorithm, challenge: challenge.challenge, number, salt, signature }));
    }
  }
  throw new Error("no solution for the challenge");
}
