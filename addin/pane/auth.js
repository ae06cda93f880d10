// Sign-in with nested app authentication (NAA): MSAL.js's nestable public client asks Outlook for a
// token to exsync's API scope; outside a host that supports NAA it falls back to a popup.
// `msal` is the global of the vendored MSAL browser build (addin/vendor/msal-browser.min.js).

let clientPromise = null;

function client(config) {
  if (!clientPromise) {
    clientPromise = globalThis.msal.createNestablePublicClientApplication({
      auth: { clientId: config.client_id, authority: config.authority },
      cache: { cacheLocation: "localStorage" },
    });
  }
  return clientPromise;
}

export async function accessToken(config) {
  if (!config.configured) {
    throw Object.assign(new Error("The add-in is not configured on the server (EXSYNC_ADDIN_CLIENT_ID)."), { status: 503 });
  }
  const app = await client(config);
  const request = { scopes: config.scopes };
  try {
    const result = await app.acquireTokenSilent(request);
    return result.accessToken;
  } catch (silentError) {
    try {
      const result = await app.acquireTokenPopup(request);
      return result.accessToken;
    } catch (error) {
      throw Object.assign(new Error(`Sign-in did not complete: ${error.message || error}`), { status: 401, cause: silentError });
    }
  }
}
