// Validate Adaptive Cards offline with Microsoft's own `adaptivecards` library (no DOM needed to
// parse): every parse event (unknown element, bad property value, element newer than the target
// version) and every validation event (duplicate ids, missing required parts) is a failure.
// usage: node tools/validate-adaptive-cards.js cards.json   (a JSON list of cards)
// exit 0 all valid, 1 some invalid (one line per problem), 2 could not run.
const fs = require("fs");
const path = require("path");
let AC;
try {
  AC = require(path.join(__dirname, "..", "node_modules", "adaptivecards", "dist", "adaptivecards.js"));
} catch (e) {
  console.error("ERROR adaptivecards is not installed (run `npm ci`):", e.message);
  process.exit(2);
}
try {
  const cards = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const problems = [];
  cards.forEach((json, index) => {
    const name = `card ${index} (${(json.body && json.body[0] && json.body[0].text) || "untitled"})`;
    if (json.version !== "1.5") problems.push(`${name}: version ${json.version}, expected 1.5`);
    const context = new AC.SerializationContext(new AC.Version(1, 5));
    const card = new AC.AdaptiveCard();
    card.parse(json, context);
    for (let i = 0; i < context.eventCount; i++) {
      problems.push(`${name}: ${context.getEventAt(i).message}`);
    }
    const results = card.validateProperties();
    for (const event of results.validationEvents || []) problems.push(`${name}: ${event.message}`);
  });
  if (problems.length) {
    console.error(`INVALID ${problems.length} problem(s):\n  ` + problems.join("\n  "));
    process.exit(1);
  }
  console.log(`VALID ${cards.length} card(s) as Adaptive Card 1.5`);
} catch (e) {
  console.error("ERROR", e.message);
  process.exit(2);
}
