metadata description = 'Key Vault (RBAC authorization, soft delete, purge protection) holding the Entra client secret and the other exsync secrets, and the Event Grid route that turns SecretNearExpiry / SecretExpired into Azure Monitor alerts.'

@description('Key Vault name (3-24 characters, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Log Analytics workspace that receives the vault audit log.')
param workspaceId string

@description('Action group the secret-expiry alerts notify.')
param actionGroupId string

@description('Name of the secret holding the Entra app client secret (EXSYNC_CLIENT_SECRET_NAME).')
param clientSecretName string

@description('Write a placeholder client secret with an expiry. Use on the first deployment only: a later deployment with true would overwrite the real secret.')
param createClientSecretPlaceholder bool

@description('Unix time (seconds) at which the placeholder client secret expires.')
param clientSecretPlaceholderExpiry int

@description('Secrets to write now, as name -> value. Empty values are skipped; set them later with az keyvault secret set.')
@secure()
param secretValues object

@description('Unix time (seconds) at which secrets written from secretValues expire.')
param secretExpiry int

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

// The placeholder is not a credential: it exists so the name resolves and the expiry alert
// fires if nobody replaces it with the real client secret (docs/deploy.md, step 4).
module clientSecretPlaceholder 'kv-secret.bicep' = if (createClientSecretPlaceholder) {
  name: 'exsync-client-secret-placeholder'
  params: {
    vaultName: vault.name
    name: clientSecretName
    value: 'placeholder: replace with the Entra client secret (docs/deploy.md)'
    contentType: 'text/plain; entra-client-secret'
    expiresOn: clientSecretPlaceholderExpiry
  }
}

module secrets 'kv-secret.bicep' = [for item in items(secretValues): if(!empty(item.value)) {
  name: 'exsync-secret-${item.key}'
  params: {
    vaultName: vault.name
    name: item.key
    value: item.value
    expiresOn: secretExpiry
  }
}]

resource auditLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

resource vaultEvents 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' = {
  name: '${name}-events'
  location: location
  tags: tags
  properties: {
    source: vault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

// Key Vault raises SecretNearExpiry 30 days before a secret's exp and SecretExpired at exp.
resource expiryAlerts 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2024-06-01-preview' = {
  parent: vaultEvents
  name: 'secret-expiry-to-alerts'
  properties: {
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    filter: {
      includedEventTypes: [
        'Microsoft.KeyVault.SecretNearExpiry'
        'Microsoft.KeyVault.SecretExpired'
      ]
    }
    destination: {
      endpointType: 'MonitorAlert'
      properties: {
        severity: 'Sev1'
        description: 'exsync: a Key Vault secret expires soon or has expired. Renew the Entra client secret (docs/deploy.md) or mail sync stops.'
        actionGroups: [
          actionGroupId
        ]
      }
    }
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
