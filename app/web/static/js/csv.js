// CSV of batch operations → operation objects. One operation a row; see the help on /batches.
const TOP = ["op", "resource", "id", "lid", "if_version"];
const NUMBERS = new Set(["id", "if_version", "assignee_id", "issue_id"]);

// RFC 4180 rows: quoted fields may hold commas, quotes ("") and newlines.
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 1; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  return rows.filter((r) => r.some((cell) => cell.trim() !== ""));
}

function value(name, cell) {
  if (NUMBERS.has(name) && /^-?\d+$/.test(cell)) return Number(cell);
  if (name === "labels") return cell.split(";").map((l) => l.trim()).filter(Boolean);
  return cell;
}

export function operationsFromCsv(text) {
  const [header, ...rows] = parseCsv(text);
  if (!header) throw new Error("The CSV file is empty.");
  const names = header.map((n) => n.trim());
  if (!names.includes("op") || !names.includes("resource")) throw new Error("The CSV needs op and resource columns.");
  return rows.map((cells) => {
    const operation = { data: {} };
    names.forEach((name, i) => {
      const cell = (cells[i] ?? "").trim();
      if (cell === "") return;
      if (TOP.includes(name)) operation[name] = value(name, cell); else operation.data[name] = value(name, cell);
    });
    if (operation.op === "delete" && !Object.keys(operation.data).length) delete operation.data;
    return operation;
  });
}
