// The task pane: wires Office.js, sign-in and the API to the page. Logic lives in logic.js.
import { ApiError, request } from "./api.js";
import { accessToken } from "./auth.js";
import {
  CREATE_KINDS, canFileTo, describeError, formFields, formPayload, groupRecords, messageQuery, messageRef,
  readItem, themeOf,
} from "./logic.js";

const $ = (id) => document.getElementById(id);
const state = { config: null, item: null, data: null, creating: null };
const KIND_NAMES = { contact: "contact", lead: "lead", case: "case", opportunity: "opportunity",
  employee: "employee", account: "business account" };

function busy(text) {
  $("status").classList.add("loading");
  $("status-text").textContent = text;
  $("status").hidden = false;
  $("error").hidden = true;
  for (const b of document.querySelectorAll("main button")) b.disabled = true;
}

function done(text) {
  $("status").classList.remove("loading");
  $("status-text").textContent = text || "";
  for (const b of document.querySelectorAll("main button")) b.disabled = false;
}

function fail(error, retry) {
  done("");
  const status = error instanceof ApiError ? error.status : (error.status ?? -1);
  $("error-text").textContent = status === -1 ? (error.message || String(error)) : describeError(status, error.body || { message: error.message });
  $("error").hidden = false;
  $("retry").onclick = retry;
  $("retry").focus();
}

async function token() {
  return accessToken(state.config);
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function recordItem(record, { fileButton }) {
  const li = el("li", { "data-kind": record.kind, "data-id": record.id });
  li.append(el("span", { class: "record-title" }, record.title || record.key));
  if (record.link) {
    const a = el("a", { href: record.link, target: "_blank", rel: "noopener" }, "Open in ERP");
    a.setAttribute("aria-label", `Open ${KIND_NAMES[record.kind]} ${record.title} in the ERP`);
    li.append(a);
  }
  if (fileButton) {
    const b = el("button", { type: "button", class: "file" }, "File here");
    b.setAttribute("aria-label", `File this mail to ${KIND_NAMES[record.kind]} ${record.title}`);
    b.addEventListener("click", () => fileTo(record));
    li.append(b);
  }
  if (record.detail) li.append(el("span", { class: "record-detail" }, record.detail));
  return li;
}

function render() {
  const data = state.data;
  $("subject").textContent = data.message.subject || "(no subject)";
  $("user").textContent = `Signed in as ${data.user.name} (${data.user.email})`;
  const filed = $("filed");
  filed.replaceChildren(...data.filed.map((r) => recordItem(r, { fileButton: false })));
  $("filed-none").hidden = data.filed.length > 0;
  const groups = groupRecords(data.records);
  $("records").replaceChildren(...groups.map((group) => {
    const box = el("div", { class: "group" });
    box.append(el("h3", {}, group.label));
    const list = el("ul", { class: "records" });
    list.append(...group.items.map((r) => recordItem(r, { fileButton: canFileTo(r, data.can_file, data.filed) })));
    box.append(list);
    return box;
  }));
  $("records-none").hidden = groups.length > 0;
  $("with-attachments").disabled = !data.message.has_attachments || !data.max_attachment_kb;
  $("create-buttons").replaceChildren(...CREATE_KINDS.map((kind) => {
    const b = el("button", { type: "button", "data-create": kind }, `New ${KIND_NAMES[kind]}`);
    b.addEventListener("click", () => openForm(kind));
    return b;
  }));
  $("content").hidden = false;
}

async function load() {
  busy("Loading the ERP records of this mail…");
  try {
    state.config = state.config || await request("config");
    state.item = await readItem(globalThis.Office);
    const t = await token();
    state.data = await request(`message?${messageQuery(state.item)}`, { token: t });
    render();
    done(`${state.data.records.length} ERP record(s) found.`);
  } catch (error) {
    fail(error, load);
  }
}

async function fileTo(record) {
  busy(`Filing the mail to ${KIND_NAMES[record.kind]} ${record.title}…`);
  try {
    const result = await request("log", { token: await token(), method: "POST", body: {
      ...messageRef(state.item), target_kind: record.kind, target_id: record.id,
      attachments: $("with-attachments").checked } });
    await reload(result.created ? `Filed to ${record.title}.` : `Already filed to ${record.title}.`);
  } catch (error) {
    fail(error, () => fileTo(record));
  }
}

async function reload(message) {
  state.data = await request(`message?${messageQuery(state.item)}`, { token: await token() });
  render();
  done(message);
}

function openForm(kind) {
  state.creating = kind;
  $("create-title").textContent = `New ${KIND_NAMES[kind]}`;
  const fields = formFields(kind, state.data.prefill);
  $("create-fields").replaceChildren(...fields.flatMap((f) => {
    const id = `field-${f.name}`;
    const label = el("label", { for: id }, f.label + (f.required ? " (required)" : ""));
    const input = el(f.multiline ? "textarea" : "input", { id, name: f.name });
    if (f.required) input.setAttribute("aria-required", "true");
    input.value = f.value;
    return [label, input];
  }));
  $("create-form").hidden = false;
  const first = $("create-fields").querySelector("input, textarea");
  if (first) first.focus();
}

function closeForm() {
  $("create-form").hidden = true;
  const opener = document.querySelector(`[data-create="${state.creating}"]`);
  state.creating = null;
  if (opener) opener.focus();
}

async function submitForm(event) {
  event.preventDefault();
  const kind = state.creating;
  const values = Object.fromEntries([...$("create-fields").querySelectorAll("input, textarea")].map((i) => [i.name, i.value]));
  const payload = formPayload(kind, state.data.prefill, values);
  if (payload.error) {
    fail(new Error(payload.error), () => { $("error").hidden = true; });
    return;
  }
  busy(`Creating the ${KIND_NAMES[kind]}…`);
  try {
    const result = await request("records", { token: await token(), method: "POST", body: {
      ...messageRef(state.item), kind, fields: payload.fields, log: true } });
    $("create-form").hidden = true;
    state.creating = null;
    await reload(`${result.created ? "Created" : "Found the existing"} ${KIND_NAMES[kind]} ${result.record.title || result.record.key}.`);
  } catch (error) {
    fail(error, () => submitForm(event));
  }
}

function start() {
  document.documentElement.dataset.theme = themeOf(globalThis.Office);
  $("create-form").addEventListener("submit", submitForm);
  $("create-cancel").addEventListener("click", closeForm);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("create-form").hidden) closeForm();
  });
  const mailbox = globalThis.Office.context.mailbox;
  if (mailbox.addHandlerAsync && globalThis.Office.EventType?.ItemChanged) {
    mailbox.addHandlerAsync(globalThis.Office.EventType.ItemChanged, () => load());
  }
  if (globalThis.Office.EventType?.OfficeThemeChanged && globalThis.Office.context.officeTheme) {
    globalThis.Office.context.mailbox.addHandlerAsync?.(globalThis.Office.EventType.OfficeThemeChanged,
      () => { document.documentElement.dataset.theme = themeOf(globalThis.Office); });
  }
  load();
}

if (globalThis.Office && globalThis.Office.onReady) {
  globalThis.Office.onReady(() => start());
} else {
  fail(new Error("Office.js did not load: open this page from Outlook."), () => location.reload());
}
