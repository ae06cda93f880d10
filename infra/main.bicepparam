using 'main.bicep'

// Example values: copy this file per environment and edit. Secrets are not set here:
// pass them on the command line (docs/deploy.md) or set them in Key Vault afterwards.
param namePrefix = 'exsync'
param maximumInstanceCount = 40
param instanceMemoryMB = 2048
param storageSku = 'Standard_ZRS'
param syncQueueName = 'exsync-sync'
param syncSchedule = '0 */5 * * * *'
param logRetentionDays = 30

param erpUrl = 'https://erp.example.com/AcumaticaERP'
param erpTenant = 'Company'
param erpUsername = 'exsync-api'
param erpMaxSessions = 1

param deployEntraApp = true
param entraAppUniqueName = 'exsync-sync'
param secretlessMode = false
param credentialExpiryAlerts = true
param rotationEnabled = false
param createClientSecretPlaceholder = true
// After scoping mailboxes with Exchange RBAC for Applications (docs/deploy.md, step 6):
// param tenantWideGrantExclusions = ['Mail.ReadWrite', 'Mail.Send', 'Contacts.ReadWrite', 'Calendars.ReadWrite', 'MailboxSettings.ReadWrite']
param tenantWideGrantExclusions = []

param alertEmails = [
  'it-alerts@example.com'
]
param alertSender = ''
param syncFailureThreshold = 3
param throttleThreshold = 50
param credentialExpiryDays = 60
