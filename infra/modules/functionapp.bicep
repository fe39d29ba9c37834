// The Function App: Flex Consumption (FC1, Linux), the Go custom handler
// (runtime "custom"), system-assigned identity for every connection, HTTPS
// and TLS 1.2 only. The app settings are every setting the handler reads in
// Azure (internal/config; local.settings.example.json lists them with their
// local defaults). Not set here on purpose, because Flex Consumption refuses
// or ignores them: FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION
// (functionAppConfig.runtime instead), WEBSITE_RUN_FROM_PACKAGE and the
// content-share settings (functionAppConfig.deployment instead), WEBSITE_TIME_ZONE/TZ.
// No app setting here has a name under a prefix the platform owns
// (FUNCTIONS_, WEBSITE_, AzureWebJobs, CORS_, SCM_, APPSETTING_) apart from
// AzureWebJobsStorage__*, which the platform defines for the app to set: the
// host writes CORS_ALLOWED_ORIGINS itself, from siteConfig.cors, as a JSON array.
// The browser origins therefore go only into siteConfig.cors; the handler's
// own ALLOWED_ORIGINS is for standalone mode and is not set here.

param location string
param tags object
param planName string
param appName string
param maximumInstanceCount int
param scmBasicAuth bool

param storageAccountName string
param deploymentContainerUrl string
param tablesEndpoint string
param tablePrefix string
param keyVaultUri string
param pepperSecretName string
param auditKeySecretName string
param mfaKeySecretName string
param mfaRequiredForAll bool
param serviceBusFqdn string
param notificationQueueName string
param notificationMaxDeliveries int
param appInsightsConnectionString string

param appBaseUrl string
param corsAllowedOrigins string[]
param webauthnRpId string
param webauthnRpName string
param webauthnOrigins string[]

param emailProvider string
param emailFrom string
param smtpHost string
param smtpPort int
param smtpSecurity string
param smtpUsername string
param smtpPasswordSecretName string
param sesRegion string
param sesConfigurationSet string
param privacyController string
param privacyContact string
param sesAccessKeyIdSecretName string
param sesSecretAccessKeySecretName string

param sessionIdleTimeout string
param sessionAbsoluteTimeout string
param invitationTtl string
param passwordResetTtl string
param lockoutThreshold int
param lockoutWindow string
param lockoutDuration string
param lockoutMaxDuration string
param activityInterval string
param privacyNoticeVersion string
param erasureDelay string
param hashConcurrency int
param hashQueue int
param throttleClientPerMinute int
param throttleClientBurst int
param throttleGlobalPerMinute int
param throttleGlobalBurst int
param throttleMaxClients int
param maxBodyBytes int

param lifecycleSchedule string
param outboxDrainSchedule string
param inactivityMonths int
param warningDays string
param safetyMargin string
param sweepBudget string
param auditRetentionMonths int
param deliveryRetention string

var baseSettings = [
  // Functions host storage, keyless (system-assigned identity).
  { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
  // Telemetry with the app's identity; local auth is off on the component.
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'Authorization=AAD' }

  // Storage (managed identity instead of TABLES_CONNECTION_STRING).
  { name: 'TABLES_ENDPOINT', value: tablesEndpoint }
  { name: 'TABLE_PREFIX', value: tablePrefix }
  // The pepper, the audit chain key and the MFA key (Key Vault instead of
  // PASSWORD_PEPPERS, AUDIT_KEYS and MFA_KEYS).
  { name: 'KEY_VAULT_URL', value: keyVaultUri }
  { name: 'PEPPER_SECRET_NAME', value: pepperSecretName }
  { name: 'AUDIT_KEY_SECRET_NAME', value: auditKeySecretName }
  { name: 'MFA_KEY_SECRET_NAME', value: mfaKeySecretName }
  // Admins and primary users always need a second factor; true extends it
  // to everyone.
  { name: 'MFA_REQUIRED_FOR_ALL', value: string(mfaRequiredForAll) }
  // Notifications: the trigger's identity-based connection and the app's
  // own publisher read the same setting.
  { name: 'ServiceBusConnection__fullyQualifiedNamespace', value: serviceBusFqdn }
  { name: 'NOTIFICATION_QUEUE', value: notificationQueueName }
  { name: 'NOTIFICATION_MAX_DELIVERIES', value: string(notificationMaxDeliveries) }

  { name: 'APP_BASE_URL', value: appBaseUrl }
  // Where the data is stored, for the record of processing (handler privacy record).
  { name: 'AZURE_REGION', value: location }
  { name: 'PRIVACY_CONTROLLER', value: privacyController }
  { name: 'PRIVACY_CONTACT', value: privacyContact }
  // Passkeys: empty id and origins follow APP_BASE_URL (internal/config).
  { name: 'WEBAUTHN_RP_ID', value: webauthnRpId }
  { name: 'WEBAUTHN_RP_NAME', value: webauthnRpName }
  { name: 'WEBAUTHN_ORIGINS', value: join(webauthnOrigins, ',') }

  { name: 'EMAIL_PROVIDER', value: emailProvider }
  { name: 'EMAIL_FROM', value: emailFrom }
  { name: 'SES_REGION', value: sesRegion }
  { name: 'SES_CONFIGURATION_SET', value: sesConfigurationSet }

  { name: 'SESSION_IDLE_TIMEOUT', value: sessionIdleTimeout }
  { name: 'SESSION_ABSOLUTE_TIMEOUT', value: sessionAbsoluteTimeout }
  { name: 'INVITATION_TTL', value: invitationTtl }
  { name: 'PASSWORD_RESET_TTL', value: passwordResetTtl }
  { name: 'LOCKOUT_THRESHOLD', value: string(lockoutThreshold) }
  { name: 'LOCKOUT_WINDOW', value: lockoutWindow }
  { name: 'LOCKOUT_DURATION', value: lockoutDuration }
  { name: 'LOCKOUT_MAX_DURATION', value: lockoutMaxDuration }
  { name: 'ACTIVITY_INTERVAL', value: activityInterval }
  { name: 'PRIVACY_NOTICE_VERSION', value: privacyNoticeVersion }
  { name: 'ERASURE_DELAY', value: erasureDelay }
  { name: 'HASH_CONCURRENCY', value: string(hashConcurrency) }
  { name: 'HASH_QUEUE', value: string(hashQueue) }
  { name: 'THROTTLE_CLIENT_PER_MINUTE', value: string(throttleClientPerMinute) }
  { name: 'THROTTLE_CLIENT_BURST', value: string(throttleClientBurst) }
  { name: 'THROTTLE_GLOBAL_PER_MINUTE', value: string(throttleGlobalPerMinute) }
  { name: 'THROTTLE_GLOBAL_BURST', value: string(throttleGlobalBurst) }
  { name: 'THROTTLE_MAX_CLIENTS', value: string(throttleMaxClients) }
  { name: 'MAX_BODY_BYTES', value: string(maxBodyBytes) }

  // The lifecycle sweep: the LifecycleSweep timer reads its schedule from
  // LIFECYCLE_SCHEDULE (%LIFECYCLE_SCHEDULE% in its function.json).
  { name: 'LIFECYCLE_SCHEDULE', value: lifecycleSchedule }
  // The OutboxDrain timer (%OUTBOX_DRAIN_SCHEDULE%) delivers what a crashed
  // instance left in an outbox; nothing else runs while the app is scaled to zero.
  { name: 'OUTBOX_DRAIN_SCHEDULE', value: outboxDrainSchedule }
  { name: 'INACTIVITY_MONTHS', value: string(inactivityMonths) }
  { name: 'WARNING_DAYS', value: warningDays }
  { name: 'SAFETY_MARGIN', value: safetyMargin }
  { name: 'SWEEP_BUDGET', value: sweepBudget }
  { name: 'AUDIT_RETENTION_MONTHS', value: string(auditRetentionMonths) }
  { name: 'DELIVERY_RETENTION', value: deliveryRetention }
]

var smtpSettings = emailProvider != 'smtp' ? [] : [
  { name: 'SMTP_HOST', value: smtpHost }
  { name: 'SMTP_PORT', value: string(smtpPort) }
  { name: 'SMTP_SECURITY', value: smtpSecurity }
  { name: 'SMTP_USERNAME', value: smtpUsername }
]

// Secrets are Key Vault references that the platform resolves with the app's
// identity (Key Vault Secrets User, roles.bicep): no value appears in the
// template, the deployment history or the app settings. No version = latest.
var smtpPasswordSetting = emailProvider != 'smtp' || empty(smtpUsername) ? [] : [
  { name: 'SMTP_PASSWORD', value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${smtpPasswordSecretName}/)' }
]

// The SES adapter uses the AWS SDK's default credential chain, which reads
// these two environment variables.
var sesCredentialSettings = emailProvider != 'ses' ? [] : [
  { name: 'AWS_ACCESS_KEY_ID', value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${sesAccessKeyIdSecretName}/)' }
  { name: 'AWS_SECRET_ACCESS_KEY', value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${sesSecretAccessKeySecretName}/)' }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // On Flex the host answers CORS, preflights included, from this list.
      cors: {
        allowedOrigins: corsAllowedOrigins
        supportCredentials: false
      }
      appSettings: concat(baseSettings, smtpSettings, smtpPasswordSetting, sesCredentialSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      runtime: {
        name: 'custom'
        version: '1.0'
      }
    }
  }
}

// No FTP, and no publishing-profile passwords unless asked for: deployments
// go through az with an Entra ID token.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuthPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: scmBasicAuth
  }
}

output appName string = app.name
output appId string = app.id
output principalId string = app.identity.principalId
output defaultHostName string = app.properties.defaultHostName
