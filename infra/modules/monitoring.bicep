// Log Analytics and workspace-based Application Insights. The handler logs
// JSON lines to stdout; the Functions host forwards them as traces, which
// the alerts in alerts.bicep query. Local (instrumentation-key) ingestion is
// off: the app sends with its managed identity
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD) and needs
// Monitoring Metrics Publisher on the component (roles.bicep).

param location string
param tags object
param logAnalyticsName string
param appInsightsName string
param retentionInDays int

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
    }
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
    DisableIpMasking: false
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

output appInsightsId string = appInsights.id
output appInsightsName string = appInsights.name
// The connection string names the component and its ingestion endpoint; with
// local auth disabled it grants nothing without an Entra ID token.
output appInsightsConnectionString string = appInsights.properties.ConnectionString
