// A stand-in for Office.js in the browser test: Outlook's read (or compose) surface with one item.
// The test serves it in place of Microsoft's CDN file; __ITEM__ and __THEME__ are filled in by the test.
(function () {
  const item = __ITEM__;
  window.__officeCalls = [];
  window.Office = {
    MailboxEnums: { RestVersion: { v2_0: "v2.0" } },
    EventType: { ItemChanged: "olkItemSelectedChanged", OfficeThemeChanged: "officeThemeChanged" },
    AsyncResultStatus: { Succeeded: "succeeded", Failed: "failed" },
    onReady(callback) { setTimeout(() => callback({ host: "Outlook", platform: "OfficeOnline" }), 0); },
    context: {
      officeTheme: { bodyBackgroundColor: __THEME__ },
      mailbox: {
        item,
        convertToRestId(id, version) { window.__officeCalls.push(["convertToRestId", id, version]); return id; },
        addHandlerAsync(type) { window.__officeCalls.push(["addHandlerAsync", type]); },
      },
    },
  };
})();
