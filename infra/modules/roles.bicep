// Role assignments: the Function App's system-assigned identity gets the
// narrowest built-in data roles on exactly the resources it uses, and nothing
// at resource-group level. Names are deterministic (guid of scope, principal
// and role), so redeploying is idempotent. principalType skips the Entra ID
// lookup that fails while a new identity is still replicating.
//
// | role                            | scope          | why                                                   |
// |---------------------------------|----------------|-------------------------------------------------------|
// | Storage Blob Data Owner         | storage account| host storage (locks, timer status, keys) and the Flex |
// |                                 |                | deployment container (the package is read from there) |
// | Storage Table Data Contributor  | storage account| the app's tables (it creates them at start, so the    |
// |                                 |                | account, not a single table)                          |
// | Azure Service Bus Data Sender   | the queue      | the relay publishes notifications                     |
// | Azure Service Bus Data Receiver | the queue      | the SendNotification trigger receives them            |
// | Key Vault Secrets User          | the vault      | read the pepper and audit key versions (and SMTP/SES) |
// | Monitoring Metrics Publisher    | App Insights   | telemetry with Entra ID (local auth is off)           |

param appPrincipalId string
param storageAccountName string
param serviceBusNamespaceName string
param queueName string
param keyVaultName string
param appInsightsName string
param opsPrincipalId string
param opsPrincipalType string

// Built-in role definition ids (the same in every tenant).
var roleIds = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: namespace
  name: queueName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// ------------------------------------------------------------ the app

resource appBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roleIds.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roleIds.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, appPrincipalId, roleIds.serviceBusDataSender)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.serviceBusDataSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appQueueReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, appPrincipalId, roleIds.serviceBusDataReceiver)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.serviceBusDataReceiver)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, roleIds.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appPrincipalId, roleIds.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ------------------------------------------------------------ ops (optional)
// What the README's runbooks need against Azure: create the pepper and the
// audit chain key and rotate them (Secrets Officer), bootstrap the first
// admin, dry-run a sweep and verify the audit chains (tables, the keys,
// publishing to the queue), read and redrive the dead-letter
// queue (receiver + sender on the queue).

var withOps = !empty(opsPrincipalId)

resource opsSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withOps) {
  name: guid(vault.id, opsPrincipalId, roleIds.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsOfficer)
    principalId: opsPrincipalId
    principalType: opsPrincipalType
  }
}

resource opsTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withOps) {
  name: guid(storage.id, opsPrincipalId, roleIds.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: opsPrincipalId
    principalType: opsPrincipalType
  }
}

resource opsQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withOps) {
  name: guid(queue.id, opsPrincipalId, roleIds.serviceBusDataSender)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.serviceBusDataSender)
    principalId: opsPrincipalId
    principalType: opsPrincipalType
  }
}

resource opsQueueReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withOps) {
  name: guid(queue.id, opsPrincipalId, roleIds.serviceBusDataReceiver)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.serviceBusDataReceiver)
    principalId: opsPrincipalId
    principalType: opsPrincipalType
  }
}
