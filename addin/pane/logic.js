// Pure logic of the task pane: no DOM, no network. Everything here takes Office.js (or a mock of it)
// as an argument, so Node's test runner checks it with office-addin-mock.

export const KIND_LABELS = {
  contact: "Contacts", lead: "Leads", employee: "Employees", account: "Business accounts",
  case: "Open cases", opportunity: "Open opportunities",
};
export const KIND_ORDER = ["contact", "lead", "employee", "account", "case", "opportunity"];
export const CREATE_KINDS = ["contact", "lead", "case", "opportunity"];
const FIELD_LABELS = {
  FirstName: "First name", LastName: "Last name", Email: "E-mail", CompanyName: "Company",
  JobTitle: "Job title", Phone1: "Phone", BusinessAccount: "Business account", Description: "Description",
  Subject: "Subject", ClassID: "Class", Priority: "Priority", ContactID: "Contact ID", Details: "Details",
};
const FORM_FIELDS = {
  contact: ["FirstName", "LastName", "Email", "CompanyName", "JobTitle"],
  lead: ["FirstName", "LastName", "Email", "CompanyName", "Description"],
  case: ["Subject", "ClassID", "Description"],
  opportunity: ["Subject", "Details"],
};
const REQUIRED = { contact: ["LastName"], lead: ["LastName"], case: ["Subject", "ClassID"], opportunity: ["Subject"] };
const MULTILINE = new Set(["Description", "Details"]);

function call(fn, ...args) {
  return new Promise((resolve, reject) => {
    fn(...args, (result) => {
      if (!result || result.status === "failed" || result.status === (globalThis.Office?.AsyncResultStatus?.Failed)) {
        reject(new Error(result?.error?.message || "Outlook did not answer"));
      } else {
        resolve(result.value);
      }
    });
  });
}

// Which message the pane is looking at: REST id (v2.0), internetMessageId, conversation and mode.
// In compose the draft is saved first so Graph (and exsync) can read it.
export async function readItem(office) {
  const mailbox = office.context.mailbox;
  const item = mailbox.item;
  if (!item) throw new Error("Open a message to see its ERP records.");
  const compose = item.itemId === undefined || item.itemId === null;
  let ewsId = item.itemId;
  if (compose) {
    ewsId = await call(item.saveAsync.bind(item));
  }
  const restVersion = office.MailboxEnums?.RestVersion?.v2_0 ?? "v2.0";
  const restId = ewsId ? mailbox.convertToRestId(ewsId, restVersion) : null;
  return {
    restId,
    internetMessageId: item.internetMessageId || null,
    conversationId: item.conversationId || null,
    subject: typeof item.subject === "string" ? item.subject : "",
    mode: compose ? "compose" : "read",
  };
}

// Outlook's theme: "dark" when the body background is dark (officeTheme), else "light".
export function themeOf(office) {
  const colour = office?.context?.officeTheme?.bodyBackgroundColor;
  const match = /^#?([0-9a-f]{6})$/i.exec(colour || "");
  if (!match) return "light";
  const n = parseInt(match[1], 16);
  const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b < 128 ? "dark" : "light";
}

// An API or sign-in failure in words a user can act on.
export function describeError(status, body) {
  const message = body && typeof body.message === "string" ? body.message : "";
  if (status === 0) return "exsync cannot be reached. Check your connection and try again.";
  if (status === 401) return `Sign-in failed: ${message || "your session has ended"}. Close and reopen the pane to sign in again.`;
  if (status === 403) return message || "You are not set up in exsync. Ask your administrator to add your mailbox.";
  if (status === 404) return message ? `Not found: ${message}` : "This message or record no longer exists.";
  if (status === 400 && body && Array.isArray(body.fields) && body.fields.length) {
    const fields = body.fields.map((f) => `${f.field}: ${f.message}`).join("; ");
    return `Please check: ${fields}`;
  }
  if (status === 429 || status === 503) return "The ERP is busy. Wait a minute and try again.";
  if (status >= 500) return `exsync had a problem (${status})${message ? ": " + message : ""}. Try again later.`;
  return message || `Unexpected answer (${status}).`;
}

// Records in display order, grouped by kind with headings; empty groups left out.
export function groupRecords(records) {
  return KIND_ORDER
    .map((kind) => ({ kind, label: KIND_LABELS[kind], items: records.filter((r) => r.kind === kind) }))
    .filter((group) => group.items.length > 0);
}

// Can this record take the mail? (cases, opportunities, contacts and leads; not already filed there.)
export function canFileTo(record, canFile, filed) {
  if (!canFile.includes(record.kind)) return false;
  return !filed.some((f) => f.kind === record.kind && f.id.toLowerCase() === record.id.toLowerCase());
}

// The create form of a kind: labelled fields with the server's prefill.
export function formFields(kind, prefill) {
  const values = (prefill && prefill[kind]) || {};
  return (FORM_FIELDS[kind] || []).map((name) => ({
    name, label: FIELD_LABELS[name] || name, value: values[name] == null ? "" : String(values[name]),
    required: (REQUIRED[kind] || []).includes(name), multiline: MULTILINE.has(name),
  }));
}

// The fields to send: the user's values where they differ from the prefill, required ones checked.
export function formPayload(kind, prefill, values) {
  const start = (prefill && prefill[kind]) || {};
  const missing = (REQUIRED[kind] || []).filter((name) => !String(values[name] ?? start[name] ?? "").trim());
  if (missing.length) {
    return { error: `Please fill in: ${missing.map((m) => FIELD_LABELS[m] || m).join(", ")}` };
  }
  const fields = {};
  for (const [name, value] of Object.entries(values)) {
    if (String(start[name] ?? "") !== value) fields[name] = value;
  }
  return { fields };
}

// The message reference the API takes, as query parameters or a JSON body.
export function messageRef(item) {
  const ref = {};
  if (item.restId) ref.message_id = item.restId;
  if (item.internetMessageId) ref.internet_message_id = item.internetMessageId;
  return ref;
}

export function messageQuery(item) {
  const params = new URLSearchParams();
  if (item.restId) params.set("id", item.restId);
  if (item.internetMessageId) params.set("internetMessageId", item.internetMessageId);
  return params.toString();
}
