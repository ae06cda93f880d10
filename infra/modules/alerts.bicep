metadata description = 'Alerting for exsync: the action group and the log alert rules for credential expiry, sync failures per mailbox, poison messages and throttling spikes. The queries read the telemetry contract in docs/deploy.md (section "Telemetry the alerts read").'

@description('Name prefix for every alert resource.')
param namePrefix string

@description('Azure region of the log alert rules.')
param location string

@description('Tags for every resource.')
param tags object

@description('Application Insights component the alert queries run against.')
param appInsightsId string

@description('E-mail addresses the action group notifies.')
param alertEmails array

@description('Failed runs of one mailbox within the window that raise the sync-failure alert.')
@minValue(1)
param syncFailureThreshold int

@description('Throttled (429) Graph or ERP calls within the window that raise the throttling alert.')
@minValue(1)
param throttleThreshold int

@description('Days before a credential expires at which the credential-expiry alert fires.')
@minValue(1)
param credentialExpiryDays int

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-alerts'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'exsync'
    enabled: true
    emailReceivers: [for (address, i) in alertEmails: {
      name: 'email-${i}'
      emailAddress: address
      useCommonAlertSchema: true
    }]
  }
}

// Telemetry contract (docs/deploy.md, "Telemetry the alerts read"): Python log records with
// extra={"event": ...} arrive as traces with customDimensions.event; OpenTelemetry counters as
// customMetrics (names and attributes: shared/metrics.py, checked by tests/infra/test_telemetry_names.py);
// the Functions host logs poison moves; outgoing HTTP calls as dependencies. Graph's 429s are counted
// by exsync.throttled (service=graph), the other services' by their dependencies, never both.
var rules = [
  {
    name: 'credential-expiry'
    severity: 1
    description: 'An exsync credential (Entra client secret or certificate) expires within ${credentialExpiryDays} days, or the expiry check could not read it. Renew it (docs/deploy.md) before mail stops flowing.'
    query: 'traces | extend event = tostring(customDimensions.event), days_left = toint(customDimensions.days_left) | where event == "exsync.credential.unreadable" or (event == "exsync.credential.expiry" and (isnull(days_left) or days_left <= ${credentialExpiryDays})) | summarize AggregatedValue = count() by credential = coalesce(tostring(customDimensions.credential), tostring(customDimensions.server), "unknown")'
    threshold: 0
    window: 'P1D'
    frequency: 'PT6H'
    dimension: 'credential'
  }
  {
    name: 'sync-failures'
    severity: 2
    description: 'A mailbox had at least ${syncFailureThreshold} failed sync runs in the last hour.'
    query: 'traces | where tostring(customDimensions.event) == "exsync.sync.run" and tostring(customDimensions.outcome) == "failed" | summarize AggregatedValue = count() by mailbox = tostring(customDimensions.mailbox)'
    threshold: syncFailureThreshold - 1
    window: 'PT1H'
    frequency: 'PT15M'
    dimension: 'mailbox'
  }
  {
    name: 'poison-messages'
    severity: 2
    description: 'A sync message failed on every retry and was moved to the poison queue: that mailbox is not syncing.'
    query: 'traces | where (message has "poison" and message has "MaxDequeueCount") or tostring(customDimensions.event) == "exsync.sync.poison" | summarize AggregatedValue = count() by mailbox = coalesce(tostring(customDimensions.mailbox), "unknown")'
    threshold: 0
    window: 'PT15M'
    frequency: 'PT5M'
    dimension: 'mailbox'
  }
  {
    name: 'throttling-spike'
    severity: 3
    description: 'More than ${throttleThreshold} throttled calls (HTTP 429) in 15 minutes: runs are slowing down.'
    query: 'union (customMetrics | where name == "exsync.throttled" | project target = tostring(customDimensions.service), hits = valueSum), (dependencies | where resultCode == "429" and target !has "graph.microsoft.com" | project target, hits = 1.0) | summarize AggregatedValue = sum(hits) by target'
    threshold: throttleThreshold
    window: 'PT15M'
    frequency: 'PT5M'
    dimension: 'target'
  }
]

resource logAlerts 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [for rule in rules: {
  name: '${namePrefix}-${rule.name}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'exsync: ${rule.name}'
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: rule.frequency
    windowSize: rule.window
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Total'
          metricMeasureColumn: 'AggregatedValue'
          operator: 'GreaterThan'
          threshold: rule.threshold
          dimensions: [
            {
              name: rule.dimension
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}]

output actionGroupId string = actionGroup.id
