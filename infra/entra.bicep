metadata description = 'Only the Entra app registration, service principal and Graph permission grants, for tenants where an Entra administrator deploys them separately from the Azure resources (and to keep the app registration out of a deployment stack). Then deploy main.bicep with deployEntraApp=false and existingClientId set to this output appId.'

targetScope = 'resourceGroup'

@description('Unique name of the app registration (stable key of the Graph Bicep resource).')
param entraAppUniqueName string = 'exsync-sync'

@description('Display name of the app registration.')
param displayName string = 'exsync'

@description('Grant Application.Read.All so the expiry check can read the app credential expiry dates.')
param credentialExpiryAlerts bool = true

@description('Opt-in secret rotation: grants Application.ReadWrite.OwnedBy instead.')
param rotationEnabled bool = false

@description('Permissions left out of the tenant-wide consent because Exchange Online RBAC for Applications grants them per mailbox (docs/deploy.md).')
param tenantWideGrantExclusions array = []

@description('Principal id of the app managed identity for secretless mode (output managedIdentityPrincipalId of main.bicep); empty: none.')
param federatedPrincipalId string = ''

// The single permission source, shared with the doctor check and docs/deploy.md.
var graphPermissions = loadJsonContent('../shared/graph_permissions.json')

var optionalPermissionNames = rotationEnabled ? [
  'Application.ReadWrite.OwnedBy'
] : (credentialExpiryAlerts ? [
  'Application.Read.All'
] : [])

module entraApp 'modules/entra-app.bicep' = {
  name: 'exsync-entra-app'
  params: {
    uniqueName: entraAppUniqueName
    displayName: displayName
    permissions: graphPermissions
    optionalPermissionNames: optionalPermissionNames
    grantExclusions: tenantWideGrantExclusions
    federatedPrincipalId: federatedPrincipalId
  }
}

output appId string = entraApp.outputs.appId
output servicePrincipalId string = entraApp.outputs.servicePrincipalId
output requestedPermissions array = entraApp.outputs.requestedPermissions
output tenantWideGrants array = entraApp.outputs.tenantWideGrants
