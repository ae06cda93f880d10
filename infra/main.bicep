metadata description = 'exsync: the whole deployment in one resource group. Function App (Flex Consumption, Python 3.11), storage, Key Vault, monitoring and alerts, least-privilege role assignments, and the Entra app registration with exactly the Graph application permissions of shared/graph_permissions.json. See docs/deploy.md.'

targetScope = 'resourceGroup'

// ------------------------------------------------------------------ naming and placement

@description('Short lowercase name used in every resource name (letters and digits, 3 to 11 characters).')
@minLength(3)
@maxLength(11)
param namePrefix string = 'exsync'

@description('Azure region for every resource (must offer the Flex Consumption plan).')
param location string = resourceGroup().location

@description('Tags for every resource.')
param tags object = {
  application: 'exsync'
}

// ------------------------------------------------------------------ Function App

@description('Most instances the Function App scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per Function App instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Storage replication. Standard_ZRS keeps state through a zone outage.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSku string = 'Standard_ZRS'

@description('Queue of per-mailbox sync requests (EXSYNC_SYNC_QUEUE).')
param syncQueueName string = 'exsync-sync'

@description('State tables created with the account (the names of shared/state/table.py TABLES, then the configuration tables of the previous version; a test keeps them equal); the app also creates any missing table itself.')
param stateTableNames array = [
  'config'
  'links'
  'cursors'
  'intents'
  'log'
  'status'
  'leases'
  'docs'
  'routed'
  // The previous version's configuration tables (shared/state/config_upgrade.py LEGACY_TABLES): still
  // declared for one version, so no deployment mode removes them before their rows were copied into
  // 'config' and checked (docs/deploy.md, Upgrade).
  'policies'
  'servers'
  'mailboxes'
]

@description('NCRONTAB schedule of the sync timer (EXSYNC_SCHEDULE).')
param syncSchedule string = '0 */5 * * * *'

@description('Days sync logs and telemetry are kept (EXSYNC_LOG_RETENTION_DAYS and Log Analytics retention).')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

// ------------------------------------------------------------------ ERP

@description('Base URL of the Acumatica instance (EXSYNC_ERP_URL).')
param erpUrl string

@description('Acumatica tenant (company) name (EXSYNC_ERP_TENANT).')
param erpTenant string

@description('Acumatica API user name (EXSYNC_ERP_USERNAME).')
param erpUsername string

@description('Acumatica API sessions one app instance opens at once (EXSYNC_ERP_MAX_SESSIONS); the API-user licence caps the total over all instances.')
@minValue(1)
@maxValue(100)
param erpMaxSessions int = 1

@description('Acumatica requests one app instance has in flight at once, over all its sessions (EXSYNC_ERP_MAX_CONCURRENT_REQUESTS); keep it under the licence\'s concurrent-request limit.')
@minValue(1)
@maxValue(100)
param erpMaxConcurrentRequests int = 8

@description('Acumatica API user password, written to Key Vault. Leave empty to set it later with az keyvault secret set.')
@secure()
param erpPassword string = ''

@description('Shared secret of the Acumatica push notifications, written to Key Vault. Leave empty to set it later.')
@secure()
param erpWebhookSecret string = ''

// ------------------------------------------------------------------ Microsoft 365 / Graph

@description('Create the Entra app registration, its service principal and the Graph permission grants (needs Entra rights, see docs/deploy.md). false: use existingClientId.')
param deployEntraApp bool = true

@description('Unique name of the app registration (stable key of the Graph Bicep resource).')
param entraAppUniqueName string = '${namePrefix}-sync'

@description('Client id of an app registration made outside this template (only when deployEntraApp is false).')
param existingClientId string = ''

@description('Client id of the app registration the admin console signs people in with (OpenID Connect ID tokens, app roles Exsync.Admin and Exsync.Reader; docs/console.md). Empty: the deployment\'s app registration, which this template then gives the console\'s redirect URI, ID tokens and app roles.')
param consoleClientId string = ''

@description('Secretless mode: trust the app managed identity as a federated credential of the app registration instead of a client secret.')
param secretlessMode bool = false

@description('Grant Application.Read.All so the expiry check can read the app credential expiry dates (not needed when rotation is on: Application.ReadWrite.OwnedBy covers it).')
param credentialExpiryAlerts bool = true

@description('Opt-in secret rotation: grants Application.ReadWrite.OwnedBy and Key Vault Secrets Officer (EXSYNC_ROTATION_ENABLED).')
param rotationEnabled bool = false

@description('Graph permissions to leave out of the tenant-wide admin consent because Exchange Online RBAC for Applications grants them to the synced mailboxes only (docs/deploy.md, step 6). Never list Tasks.ReadWrite.All or User.Read.All: they have no Exchange role.')
param tenantWideGrantExclusions array = []

@description('Subscribe to Graph change notifications (mail within seconds); false: polling only.')
param graphNotifications bool = true

@description('Public base URL of the app\'s /api routes for Graph subscriptions (EXSYNC_GRAPH_NOTIFICATION_URL). Empty: the Function App\'s own https://<host>/api.')
param graphNotificationUrl string = ''

@description('clientState sent with Graph subscriptions (at most 128 characters), written to Key Vault. Leave empty to set it later.')
@secure()
param graphClientState string = ''

// ------------------------------------------------------------------ secrets

@description('Key Vault secret names the app reads.')
param secretNames object = {
  clientSecret: 'exsync-client-secret'
  erpPassword: 'exsync-erp-password'
  erpWebhookSecret: 'exsync-erp-webhook-secret'
  graphClientState: 'exsync-graph-client-state'
  alertWebhookUrl: 'exsync-alert-webhook-url'
}

@description('Write a placeholder client secret with an expiry (first deployment only; a later true overwrites the real secret).')
param createClientSecretPlaceholder bool = false

@description('Days until the placeholder client secret expires (its SecretNearExpiry event fires 30 days before).')
@minValue(1)
@maxValue(730)
param clientSecretPlaceholderDays int = 45

@description('Days until secrets written by this deployment expire.')
@minValue(30)
@maxValue(730)
param secretLifetimeDays int = 365

@description('Deployment time; do not set (the expiry dates are computed from it).')
param deploymentTime string = utcNow()

// ------------------------------------------------------------------ alerting

@description('E-mail addresses that receive alerts (action group and EXSYNC_ALERT_EMAILS).')
param alertEmails array = []

@description('Mailbox the app sends alert mail from (EXSYNC_ALERT_SENDER); empty: no alert mail from the app.')
param alertSender string = ''

@description('Webhook URL (Teams, Slack, ...) the app posts alerts to, written to Key Vault. Leave empty to set it later.')
@secure()
param alertWebhookUrl string = ''

@description('Failed runs of one mailbox in an hour that raise the sync-failure alert.')
@minValue(1)
param syncFailureThreshold int = 3

@description('Throttled calls in 15 minutes that raise the throttling alert.')
@minValue(1)
param throttleThreshold int = 50

@description('Days before a credential expires from which the app-side expiry warnings raise an alert (the app warns at 60/30/14/7/1 days).')
@minValue(1)
param credentialExpiryDays int = 60

// ------------------------------------------------------------------ derived names

// The single permission source, shared with the doctor check and docs/deploy.md.
var graphPermissions = loadJsonContent('../shared/graph_permissions.json')

var suffix = uniqueString(resourceGroup().id, namePrefix)
var compactPrefix = toLower(replace(namePrefix, '-', ''))
var storageName = take('${compactPrefix}${suffix}', 24)
var keyVaultName = take('${compactPrefix}-kv-${suffix}', 24)
var functionAppName = '${namePrefix}-func-${suffix}'
var deploymentContainerName = 'app-package'

var requiredPermissionNames = [for p in graphPermissions.required: p.name]

var optionalPermissionNames = rotationEnabled ? [
  'Application.ReadWrite.OwnedBy'
] : (credentialExpiryAlerts ? [
  'Application.Read.All'
] : [])

var placeholderExpiry = dateTimeToEpoch(dateTimeAdd(deploymentTime, 'P${clientSecretPlaceholderDays}D'))
var secretExpiry = dateTimeToEpoch(dateTimeAdd(deploymentTime, 'P${secretLifetimeDays}D'))

// ------------------------------------------------------------------ resources

module identity 'modules/identity.bicep' = {
  name: 'exsync-identity'
  params: {
    name: '${namePrefix}-id-${suffix}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'exsync-monitoring'
  params: {
    namePrefix: '${namePrefix}-${suffix}'
    location: location
    tags: tags
    retentionDays: logRetentionDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'exsync-storage'
  params: {
    name: storageName
    location: location
    tags: tags
    skuName: storageSku
    deploymentContainerName: deploymentContainerName
    syncQueueName: syncQueueName
    tableNames: stateTableNames
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'exsync-alerts'
  params: {
    namePrefix: '${namePrefix}-${suffix}'
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
    alertEmails: alertEmails
    syncFailureThreshold: syncFailureThreshold
    throttleThreshold: throttleThreshold
    credentialExpiryDays: credentialExpiryDays
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'exsync-workbook'
  params: {
    displayName: 'exsync sync health (${namePrefix})'
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'exsync-keyvault'
  params: {
    name: keyVaultName
    location: location
    tags: tags
    workspaceId: monitoring.outputs.workspaceId
    actionGroupId: alerts.outputs.actionGroupId
    clientSecretName: secretNames.clientSecret
    createClientSecretPlaceholder: createClientSecretPlaceholder && !secretlessMode
    clientSecretPlaceholderExpiry: placeholderExpiry
    secretValues: {
      '${secretNames.erpPassword}': erpPassword
      '${secretNames.erpWebhookSecret}': erpWebhookSecret
      '${secretNames.graphClientState}': graphClientState
      '${secretNames.alertWebhookUrl}': alertWebhookUrl
    }
    secretExpiry: secretExpiry
  }
}

module roles 'modules/roles.bicep' = {
  name: 'exsync-roles'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    rotationEnabled: rotationEnabled
  }
}

module entraApp 'modules/entra-app.bicep' = if (deployEntraApp) {
  name: 'exsync-entra-app'
  params: {
    uniqueName: entraAppUniqueName
    displayName: 'exsync (${namePrefix})'
    permissions: graphPermissions
    optionalPermissionNames: optionalPermissionNames
    grantExclusions: tenantWideGrantExclusions
    federatedPrincipalId: secretlessMode ? identity.outputs.principalId : ''
    consoleRedirectUri: empty(consoleClientId) ? 'https://${functionAppName}.azurewebsites.net/console/signin' : ''
  }
}

// ------------------------------------------------------------------ app settings

var clientId = deployEntraApp ? entraApp.outputs.appId : existingClientId

// A Key Vault reference: the platform resolves it with keyVaultReferenceIdentity (the app
// identity); the value never appears in the template, the deployment or the portal.
var vaultRef = '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName='

var appSettings = {
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.outputs.clientId
  AZURE_CLIENT_ID: identity.outputs.clientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.outputs.clientId};Authorization=AAD'
  PYTHON_ENABLE_OPENTELEMETRY: 'true'
  EXSYNC_STATE_TABLE_ENDPOINT: storage.outputs.tableEndpoint
  EXSYNC_QUEUE_ENDPOINT: storage.outputs.queueEndpoint
  EXSYNC_SYNC_QUEUE: syncQueueName
  EXSYNC_SCHEDULE: syncSchedule
  EXSYNC_KEY_VAULT_URL: keyVault.outputs.uri
  EXSYNC_CLIENT_SECRET_NAME: secretlessMode ? '' : secretNames.clientSecret
  EXSYNC_TENANT_ID: tenant().tenantId
  EXSYNC_CLIENT_ID: clientId
  EXSYNC_CONSOLE_CLIENT_ID: empty(consoleClientId) ? clientId : consoleClientId
  EXSYNC_LOG_RETENTION_DAYS: string(logRetentionDays)
  EXSYNC_ALERT_EMAILS: join(alertEmails, ',')
  EXSYNC_ALERT_SENDER: alertSender
  EXSYNC_ALERT_WEBHOOK_URL: '${vaultRef}${secretNames.alertWebhookUrl})'
  EXSYNC_ROTATION_ENABLED: string(rotationEnabled)
  EXSYNC_ERP_URL: erpUrl
  EXSYNC_ERP_TENANT: erpTenant
  EXSYNC_ERP_USERNAME: erpUsername
  EXSYNC_ERP_MAX_SESSIONS: string(erpMaxSessions)
  EXSYNC_ERP_MAX_CONCURRENT_REQUESTS: string(erpMaxConcurrentRequests)
  EXSYNC_ERP_PASSWORD: '${vaultRef}${secretNames.erpPassword})'
  EXSYNC_ERP_WEBHOOK_SECRET: '${vaultRef}${secretNames.erpWebhookSecret})'
  EXSYNC_GRAPH_NOTIFICATION_URL: !graphNotifications ? '' : (empty(graphNotificationUrl) ? 'https://${functionAppName}.azurewebsites.net/api' : graphNotificationUrl)
  EXSYNC_GRAPH_CLIENT_STATE: '${vaultRef}${secretNames.graphClientState})'
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'exsync-functionapp'
  params: {
    name: functionAppName
    location: location
    tags: tags
    identityId: identity.outputs.id
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: appSettings
  }
  dependsOn: [
    roles
  ]
}

// ------------------------------------------------------------------ outputs

output functionAppName string = functionApp.outputs.name
output functionAppHostName string = functionApp.outputs.defaultHostName
output storageAccountName string = storage.outputs.name
output keyVaultName string = keyVault.outputs.name
output keyVaultUri string = keyVault.outputs.uri
output clientId string = clientId
output tenantId string = tenant().tenantId
output managedIdentityClientId string = identity.outputs.clientId
output managedIdentityPrincipalId string = identity.outputs.principalId
output grantedGraphPermissions array = concat(requiredPermissionNames, optionalPermissionNames)
