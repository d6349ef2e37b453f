// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Verifies webhook deliveries with the official Standard Webhooks library (npm
// "standardwebhooks"), for tests/test-signing.c.
//
// Standard input: one JSON object per line,
//   {"secret": "whsec_…", "headers": {"webhook-id": …, "webhook-timestamp": …,
//    "webhook-signature": …}, "body": "<exact body string>"}
// with an optional "now" (Unix seconds) that fixes the library's clock for that line, so that
// published vectors with old timestamps can be checked too.
// Standard output: one line per input line, in order: "ok" or "fail <message>". Exit status 0.
import { createInterface } from "node:readline";
import { Webhook } from "standardwebhooks";

const realNow = Date.now;

function verifyLine(line) {
	let input;
	try {
		input = JSON.parse(line);
	} catch (e) {
		return `fail bad input line: ${e.message}`;
	}
	try {
		if (typeof input.now === "number")
			Date.now = () => input.now * 1000;
		new Webhook(input.secret).verify(input.body, input.headers);
		return "ok";
	} catch (e) {
		return `fail ${e.name}: ${e.message}`;
	} finally {
		Date.now = realNow;
	}
}

const out = [];
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
	if (line.trim() === "")
		continue;
	out.push(verifyLine(line).replace(/[\r\n]+/g, " "));
}
process.stdout.write(out.map((l) => `${l}\n`).join(""));
