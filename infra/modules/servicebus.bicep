// Service Bus namespace and the notification queue (DESIGN §6, REL-6).
// Standard tier: Basic has no duplicate detection. Local (SAS) auth is off;
// the app sends and receives with its managed identity.

param location string
param tags object
param namespaceName string
param queueName string
param maxDeliveryCount int

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: queueName
  properties: {
    // The relay publishes with MessageId = notification id; a re-publish
    // within the window (catch-up after a crash, retried sends) is dropped
    // by the broker. One hour covers the relay's retries and several 30 s
    // catch-up rounds. Only settable when the queue is created.
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT1H'
    // The app records the failure on the last delivery; it reads the same
    // number from NOTIFICATION_MAX_DELIVERIES (functionapp.bicep).
    maxDeliveryCount: maxDeliveryCount
    deadLetteringOnMessageExpiration: true
    lockDuration: 'PT1M'
    defaultMessageTimeToLive: 'P14D'
    requiresSession: false
    enablePartitioning: false
    maxSizeInMegabytes: 1024
  }
}

output namespaceId string = namespace.id
output namespaceName string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output queueName string = queue.name
output maxDeliveryCount int = queue.properties.maxDeliveryCount
