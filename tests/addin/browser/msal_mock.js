// A stand-in for MSAL.js in the browser test: the nestable client hands out the token the local
// issuer signed (__TOKEN__), recording the scopes it was asked for.
(function () {
  window.__msalRequests = [];
  window.msal = {
    async createNestablePublicClientApplication(config) {
      window.__msalConfig = config;
      return {
        async acquireTokenSilent(request) { window.__msalRequests.push(request.scopes); return { accessToken: __TOKEN__ }; },
        async acquireTokenPopup() { throw new Error("no popup in the test"); },
      };
    },
  };
})();
