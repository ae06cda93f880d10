// Unit tests of the task pane's logic (addin/pane/logic.js) with office-addin-mock, under node --test.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";

import {
  canFileTo, describeError, formFields, formPayload, groupRecords, messageQuery, messageRef, readItem, themeOf,
} from "../../../addin/pane/logic.js";

const require = createRequire(import.meta.url);
const { OfficeMockObject } = require("office-addin-mock");

function readMock(overrides = {}) {
  return new OfficeMockObject({
    host: "outlook",
    MailboxEnums: { RestVersion: { v2_0: "v2.0" } },
    context: {
      officeTheme: { bodyBackgroundColor: "#ffffff" },
      mailbox: {
        item: { itemId: "AAMk/ews+id=", internetMessageId: "<m1@contoso.test>", conversationId: "conv-1",
                subject: "Printer", ...overrides },
        convertToRestId(id, version) { this.converted = [id, version]; return id.replace(/\//g, "-").replace(/\+/g, "_"); },
      },
    },
  });
}

test("readItem converts the EWS id to a REST id in read mode", async () => {
  const office = readMock();
  const item = await readItem(office);
  assert.deepEqual(item, { restId: "AAMk-ews_id=", internetMessageId: "<m1@contoso.test>", conversationId: "conv-1",
                           subject: "Printer", mode: "read" });
  assert.deepEqual(office.context.mailbox.converted, ["AAMk/ews+id=", "v2.0"]);
});

test("readItem saves a draft in compose mode to get its id", async () => {
  const office = readMock({ itemId: undefined, internetMessageId: undefined, subject: { getAsync() {} },
    saveAsync(callback) { this.saved = true; callback({ status: "succeeded", value: "draft/id" }); } });
  const item = await readItem(office);
  assert.equal(item.mode, "compose");
  assert.equal(item.restId, "draft-id");
  assert.equal(item.subject, "");
  assert.equal(office.context.mailbox.item.saved, true);
});

test("readItem reports a failed draft save in words", async () => {
  const office = readMock({ itemId: undefined,
    saveAsync(callback) { callback({ status: "failed", error: { message: "Save failed: offline" } }); } });
  await assert.rejects(readItem(office), /Save failed: offline/);
});

test("readItem without an item asks the user to open a message", async () => {
  const office = new OfficeMockObject({ host: "outlook", context: { mailbox: { convertToRestId() {} } } });
  await assert.rejects(readItem(office), /Open a message/);
});

test("themeOf follows Outlook's body colour", () => {
  assert.equal(themeOf(readMock()), "light");
  const dark = readMock();
  dark.context.officeTheme.bodyBackgroundColor = "#1f1f1f";
  assert.equal(themeOf(dark), "dark");
  assert.equal(themeOf({}), "light");
});

test("describeError turns statuses into words", () => {
  assert.match(describeError(401, { message: "token rejected (exp): expired" }), /Sign-in failed: token rejected \(exp\)/);
  assert.match(describeError(403, { message: "ann@x is not a synced employee" }), /not a synced employee/);
  assert.match(describeError(400, { fields: [{ field: "fields.Colour", message: "not a field" }] }), /Please check: fields.Colour: not a field/);
  assert.match(describeError(0, null), /cannot be reached/);
  assert.match(describeError(503, {}), /busy/);
  assert.match(describeError(500, { message: "boom" }), /problem \(500\): boom/);
});

test("groupRecords orders kinds and drops empty groups", () => {
  const groups = groupRecords([{ kind: "case", id: "1" }, { kind: "contact", id: "2" }, { kind: "case", id: "3" }]);
  assert.deepEqual(groups.map((g) => [g.kind, g.items.length]), [["contact", 1], ["case", 2]]);
  assert.equal(groups[1].label, "Open cases");
});

test("canFileTo skips employees, accounts and records already filed", () => {
  const canFile = ["contact", "lead", "case", "opportunity"];
  const filed = [{ kind: "case", id: "ABC" }];
  assert.equal(canFileTo({ kind: "case", id: "abc" }, canFile, filed), false);
  assert.equal(canFileTo({ kind: "case", id: "def" }, canFile, filed), true);
  assert.equal(canFileTo({ kind: "employee", id: "x" }, canFile, filed), false);
});

test("formFields shows the prefill and marks required fields", () => {
  const fields = formFields("lead", { lead: { FirstName: "Mia", LastName: "Stone", Email: "mia@t.test" } });
  assert.deepEqual(fields.map((f) => [f.name, f.value, f.required]).slice(0, 3),
    [["FirstName", "Mia", false], ["LastName", "Stone", true], ["Email", "mia@t.test", false]]);
});

test("formPayload sends only changed fields and refuses missing required ones", () => {
  const prefill = { case: { Subject: "Printer", ClassID: "SUPPORT", Description: "jams" } };
  assert.deepEqual(formPayload("case", prefill, { Subject: "Printer", ClassID: "SUPPORT", Description: "jams a lot" }),
    { fields: { Description: "jams a lot" } });
  assert.deepEqual(formPayload("case", prefill, { Subject: " ", ClassID: "SUPPORT", Description: "" }),
    { error: "Please fill in: Subject" });
});

test("messageRef and messageQuery carry both ids when known", () => {
  const item = { restId: "AA-1", internetMessageId: "<m@x>" };
  assert.deepEqual(messageRef(item), { message_id: "AA-1", internet_message_id: "<m@x>" });
  assert.equal(messageQuery(item), "id=AA-1&internetMessageId=%3Cm%40x%3E");
  assert.deepEqual(messageRef({ restId: null, internetMessageId: "<m@x>" }), { internet_message_id: "<m@x>" });
});
