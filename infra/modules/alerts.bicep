// Alerts to ops (REL-6, GDPR-6): an action group that emails alertEmail, and
//   1. the dead-letter queue of the notification queue is not empty
//      (Service Bus metric DeadletteredMessages > 0 for 15 minutes);
//   2. a notification was recorded as failed (the handler logs
//      "notification failed permanently", "notification failed on its last
//      delivery" or "malformed notification" when it writes the failed table);
//   3. a lifecycle sweep failed (the sweep, next issue, logs "lifecycle sweep
//      failed"; a failed LifecycleSweep invocation counts too).
// The handler logs JSON lines to stdout; the Functions host forwards each line
// as a trace whose message is that line, so the log alerts match its text.
// Metric alert rules and action groups are 'global' Azure Monitor resources:
// rule definitions and a mailbox, no personal data of the app's users.
// The log alert rules skip query validation: App Insights creates the
// traces and requests tables only when the app first logs, and a rule whose
// query names a missing table is refused at creation otherwise.

param location string
param tags object
param actionGroupName string
param alertEmail string
param serviceBusNamespaceId string
param queueName string
param appInsightsId string
param baseName string

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: take('ua-${baseName}', 12)
    enabled: true
    emailReceivers: [
      {
        name: 'ops'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource deadLetterAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${baseName}-notifications-dead-lettered'
  location: 'global'
  tags: tags
  properties: {
    description: 'Messages are waiting in the dead-letter queue of ${queueName}: emails that were not sent after every delivery. Nothing empties it by itself; see README "Dead-lettered notifications".'
    severity: 2
    enabled: true
    scopes: [
      serviceBusNamespaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          name: 'DeadLetteredAboveZero'
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                queueName
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          // Minimum over 15 minutes: above zero the whole window.
          timeAggregation: 'Minimum'
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

resource failedNotificationAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${baseName}-notifications-failed'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Notification recorded as failed'
    description: 'The handler recorded a notification in the failed table (permanent provider refusal, malformed message, or the last delivery failed). See README "Dead-lettered notifications".'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'traces | where message contains "notification failed permanently" or message contains "notification failed on its last delivery" or message contains "malformed notification"'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    skipQueryValidation: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource sweepFailedAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${baseName}-lifecycle-sweep-failed'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Lifecycle sweep failed'
    description: 'The daily lifecycle sweep (inactivity warnings, closing, erasure: P6, P7) failed. The timer does not retry; the next run is tomorrow. Dry-run it (README "Dry-run a sweep") and run it again once the cause is fixed.'
    severity: 1
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: 'union (traces | where message contains "lifecycle sweep failed"), (requests | where name == "LifecycleSweep" and success == false)'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    skipQueryValidation: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}
