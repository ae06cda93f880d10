metadata description = 'Azure Monitor workbook "exsync sync health": per mailbox the last run, outcomes, failures, throttling and poison messages, from the telemetry contract in docs/deploy.md.'

@description('Display name of the workbook.')
param displayName string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Application Insights component the workbook queries.')
param appInsightsId string

var content = replace(loadTextContent('sync-health.workbook.json'), '__APP_INSIGHTS_ID__', appInsightsId)

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, appInsightsId, 'exsync-sync-health')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: content
  }
}

output id string = workbook.id
