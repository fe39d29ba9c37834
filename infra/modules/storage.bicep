// One StorageV2 account, keyless: the Functions host's own storage
// (AzureWebJobsStorage__accountName: blobs for locks, timers and keys), the
// Flex Consumption deployment container, and the app's tables. Shared-key
// and anonymous access are off, so only Entra ID principals with a data role
// (roles.bicep) get in.

param location string
param tags object
param accountName string
param sku string
param deploymentContainerName string
param tablePrefix string

// The tables the app owns: prefix + these suffixes (internal/tablestore).
// In Azure the app does not create tables at start (a cold start spends no
// storage calls on them): this list must hold every table the store uses
// (a contract test in cmd/handler compares them).
var tableSuffixes = [
  'users'
  'emails'
  'orgs'
  'members'
  'audit'
  'auditidx'
  'pending'
  'deliveries'
  'failed'
  'lifecycle'
]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: sku
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      services: {
        blob: {
          enabled: true
        }
        table: {
          enabled: true
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for table in tableSuffixes: {
  parent: tableService
  name: '${tablePrefix}${table}'
}]

output accountName string = account.name
output accountId string = account.id
output tableEndpoint string = 'https://${account.name}.table.${environment().suffixes.storage}'
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainer.name}'
