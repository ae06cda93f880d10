metadata description = 'One Key Vault secret with a content type and an expiry (its own module so that conditional and looped secrets are still scanned as plain resources by checkov).'

@description('Name of the existing Key Vault.')
param vaultName string

@description('Secret name.')
param name string

@description('Secret value.')
@secure()
param value string

@description('Content type recorded with the secret.')
param contentType string = 'text/plain'

@description('Unix time (seconds) at which the secret expires; Key Vault raises SecretNearExpiry 30 days before.')
param expiresOn int

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: name
  properties: {
    value: value
    contentType: contentType
    attributes: {
      enabled: true
      exp: expiresOn
    }
  }
}

output name string = secret.name
