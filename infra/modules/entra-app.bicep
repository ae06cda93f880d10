metadata description = 'Entra ID app registration, its service principal and the admin-consented Graph application permissions (appRoleAssignedTo), plus the optional federated identity credential that lets the app managed identity sign in as the app without a secret. Needs the Microsoft Graph Bicep extension (bicepconfig.json); kept in its own module because checkov cannot parse the extension syntax.'

extension microsoftGraphV1

@description('Immutable unique name of the app registration (Graph Bicep client-provided key).')
param uniqueName string

@description('Display name of the app registration.')
param displayName string

@description('The Graph permission list, loaded in main.bicep from shared/graph_permissions.json (the single source).')
param permissions object

@description('Optional permission names to grant on top of the required ones.')
param optionalPermissionNames array

@description('Permission names NOT granted tenant-wide because Exchange Online RBAC for Applications grants them per mailbox scope (docs/deploy.md). They stay listed as required on the app.')
param grantExclusions array

@description('Principal (object) id of the managed identity trusted as a federated credential; empty: no federated credential.')
param federatedPrincipalId string

@description('The admin console\'s sign-in redirect URI (https://<app>/console/signin) when people sign in to the console with this app registration; empty: the console has its own registration.')
param consoleRedirectUri string = ''

// The console's app roles (docs/console.md): assign them to people in Enterprise applications.
var consoleRoles = [
  {
    value: 'Exsync.Admin'
    displayName: 'exsync administrator'
    description: 'Changes policies, servers, mailboxes and runs in the exsync admin console.'
  }
  {
    value: 'Exsync.Reader'
    displayName: 'exsync reader'
    description: 'Reads everything in the exsync admin console and changes nothing.'
  }
]

var consoleAppRoles = [for role in consoleRoles: {
  id: guid(uniqueName, role.value)
  value: role.value
  displayName: role.displayName
  description: role.description
  allowedMemberTypes: [
    'User'
  ]
  isEnabled: true
}]

// Every granted permission, in the order of shared/graph_permissions.json.
var granted = concat(permissions.required, filter(permissions.optional, p => contains(optionalPermissionNames, p.name)))

// The tenant-wide grants (admin consent); a tenant-wide grant would override an Exchange RBAC scope.
var consented = filter(granted, p => !contains(grantExclusions, p.name))

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  // The console's OpenID Connect sign-in: ID tokens posted back to its redirect URI, no secret.
  web: {
    redirectUris: empty(consoleRedirectUri) ? [] : [
      consoleRedirectUri
    ]
    implicitGrantSettings: {
      enableIdTokenIssuance: !empty(consoleRedirectUri)
      enableAccessTokenIssuance: false
    }
  }
  appRoles: empty(consoleRedirectUri) ? [] : consoleAppRoles
  requiredResourceAccess: [
    {
      resourceAppId: permissions.resourceAppId
      resourceAccess: [for p in granted: {
        id: p.id
        type: 'Role'
      }]
    }
  ]
}

resource appPrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: app.appId
}

resource graphPrincipal 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: permissions.resourceAppId
}

// Admin consent, one app role assignment per permission. Exchange Online RBAC for
// Applications can narrow the mailbox permissions afterwards (docs/deploy.md).
resource grants 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [for p in consented: {
  appRoleId: p.id
  principalId: appPrincipal.id
  resourceId: graphPrincipal.id
}]

resource federatedCredential 'Microsoft.Graph/applications/federatedIdentityCredentials@v1.0' = if (!empty(federatedPrincipalId)) {
  name: '${app.uniqueName}/app-managed-identity'
  description: 'The exsync Function App managed identity signs in as this app (secretless mode).'
  issuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
  subject: federatedPrincipalId
  audiences: [
    'api://AzureADTokenExchange'
  ]
}

output appId string = app.appId
output appObjectId string = app.id
output servicePrincipalId string = appPrincipal.id
output requestedPermissions array = [for p in granted: p.name]
output tenantWideGrants array = [for p in consented: p.name]
