// The whole Azure deployment of the user-administration backend, into one
// resource group:
//
//   az deployment group create -g <group> -f infra/main.bicep -p infra/main.bicepparam
//
// (make deploy does that, then creates the pepper, publishes build/app.zip
// and waits for /api/health.) Every resource is in `location`, which only
// accepts EU regions where Flex Consumption runs (P12); the only exceptions
// are the alert rule and action group for the dead-letter metric, which
// Azure Monitor keeps in 'global' (definitions only, no personal data).
// Nothing here holds a key or a connection string: every connection is the
// Function App's system-assigned identity with the narrowest built-in role.
// `make infra-check` (scripts/infra-check.mjs) enforces these rules.
targetScope = 'resourceGroup'

// ---------------------------------------------------------------- where

@description('Azure region of every resource. EU member-state regions where Flex Consumption is available (P12); UK, Switzerland and Norway are left out on purpose.')
@allowed([
  'northeurope'
  'westeurope'
  'swedencentral'
  'germanywestcentral'
  'francecentral'
  'italynorth'
  'spaincentral'
])
param location string = 'westeurope'

@description('Short name that every resource name starts from: 3-9 lowercase letters or digits.')
@minLength(3)
@maxLength(9)
param name string = 'useradmin'

@description('Tags on every resource.')
param tags object = {
  application: 'palvelumanuaali-useradmin'
  'data-classification': 'personal'
}

@description('Assign the built-in "Allowed locations" policy to this resource group with the EU regions above. Needs Microsoft.Authorization/policyAssignments/write (Owner or Resource Policy Contributor).')
param enableAllowedLocationsPolicy bool = false

// ---------------------------------------------------------------- the app

@description('The frontend base URL; every email link starts with it (APP_BASE_URL).')
param appBaseUrl string

@description('Browser origins allowed to call the API, each scheme://host[:port] with no path and no trailing slash, e.g. https://hallinta.example.fi; never \'*\'. The Functions platform answers CORS from these (siteConfig.cors): on Flex Consumption the host handles every preflight itself, and an empty list refuses every browser.')
@minLength(1)
param corsAllowedOrigins string[]

@description('Passkeys\' relying party id (WEBAUTHN_RP_ID): the frontend\'s domain or a registrable suffix of it, e.g. example.fi. Every passkey is bound to it, so changing it later orphans them all. Empty: appBaseUrl\'s host.')
param webauthnRpId string = ''

@description('The name authenticators show next to a passkey (WEBAUTHN_RP_NAME).')
@minLength(1)
param webauthnRpName string = 'Palvelumanuaali'

@description('Frontend origins that run the passkey ceremonies (WEBAUTHN_ORIGINS), each https://host[:port] on webauthnRpId. Empty: appBaseUrl\'s origin.')
param webauthnOrigins string[] = []

@description('Flex Consumption: the most instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Prefix of every table name (TABLE_PREFIX): letters and digits, starting with a letter.')
@minLength(1)
@maxLength(20)
param tablePrefix string = 'ua'

@description('Storage redundancy. LRS or ZRS keep every copy in the chosen region.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
param storageSku string = 'Standard_LRS'

@description('Allow basic-auth (publishing profile) deployments to the SCM site. Off: az functionapp deployment uses Entra ID tokens.')
param scmBasicAuth bool = false

// ---------------------------------------------------------------- secrets

@description('Key Vault secret holding the password pepper versions (PEPPER_SECRET_NAME). make deploy creates it when missing; the template never sets a value.')
param pepperSecretName string = 'password-pepper'

@description('Key Vault secret holding the audit chain key versions (AUDIT_KEY_SECRET_NAME): every audit link is an HMAC under its newest version. make deploy creates it when missing; the template never sets a value.')
param auditKeySecretName string = 'audit-chain-key'

@description('Key Vault secret holding the MFA key versions (MFA_KEY_SECRET_NAME): TOTP secrets are sealed (AES-256-GCM) and recovery codes keyed (HMAC-SHA256) under them. make deploy creates it when missing; the template never sets a value.')
param mfaKeySecretName string = 'mfa-key'

@description('MFA_REQUIRED_FOR_ALL: editors and experts need a second factor too (admins and primary users always do).')
param mfaRequiredForAll bool = false

@description('Key Vault network access. Flex Consumption apps without a virtual network reach the vault over its public endpoint, so Disabled needs private networking first.')
@allowed([
  'Enabled'
  'Disabled'
])
param keyVaultPublicNetworkAccess string = 'Enabled'

@description('"recover" brings back a soft-deleted vault of the same name (purge protection keeps the name for 90 days after a teardown).')
@allowed([
  'default'
  'recover'
])
param keyVaultCreateMode string = 'default'

// ---------------------------------------------------------------- email

@description('smtp (a relay with STARTTLS or TLS) or ses (Amazon SES v2 in an EU/EEA region).')
@allowed([
  'smtp'
  'ses'
])
param emailProvider string = 'smtp'

@description('Sender, e.g. "Palvelumanuaali <no-reply@palvelumanuaali.fi>" (EMAIL_FROM).')
param emailFrom string

@description('SMTP relay host (EMAIL_PROVIDER=smtp). Azure blocks outbound port 25: use 587 (STARTTLS) or 465 (TLS).')
param smtpHost string = ''

@description('SMTP relay port.')
@minValue(1)
@maxValue(65535)
param smtpPort int = 587

@description('SMTP transport security. "none" is for a local mail catcher only and the handler refuses it for other hosts.')
@allowed([
  'starttls'
  'tls'
])
param smtpSecurity string = 'starttls'

@description('SMTP user name; empty = no SMTP authentication. When set, SMTP_PASSWORD is a Key Vault reference to smtpPasswordSecretName.')
param smtpUsername string = ''

@description('Key Vault secret holding the SMTP password (only read when smtpUsername is set).')
param smtpPasswordSecretName string = 'smtp-password'

@description('Amazon SES region (EMAIL_PROVIDER=ses): EU/EEA only, the same list the handler accepts.')
@allowed([
  ''
  'eu-central-1'
  'eu-north-1'
  'eu-south-1'
  'eu-south-2'
  'eu-west-1'
  'eu-west-3'
])
param sesRegion string = ''

@description('Optional SES configuration set.')
param sesConfigurationSet string = ''

@description('The record of processing: the controller (name and address) and the contact (data protection officer). Placeholders are printed while empty.')
param privacyController string = ''
param privacyContact string = ''

@description('Key Vault secrets with the AWS access key id and secret access key the SES adapter uses (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, read by the AWS SDK), only when emailProvider is ses.')
param sesAccessKeyIdSecretName string = 'ses-access-key-id'
param sesSecretAccessKeySecretName string = 'ses-secret-access-key'

// ---------------------------------------------------------------- notifications

@description('The notification queue (NOTIFICATION_QUEUE).')
param notificationQueueName string = 'notifications'

@description('Deliveries before Service Bus dead-letters a message; the app gets the same number (NOTIFICATION_MAX_DELIVERIES) and records the failure on the last one.')
@minValue(1)
@maxValue(100)
param notificationMaxDeliveries int = 10

// ---------------------------------------------------------------- accounts (defaults = DESIGN §4, local.settings.example.json)

param sessionIdleTimeout string = '30m'
param sessionAbsoluteTimeout string = '12h'
param invitationTtl string = '168h'
param passwordResetTtl string = '30m'
@minValue(3)
@maxValue(100)
param lockoutThreshold int = 10
@description('A failed sign-in older than this no longer counts towards lockoutThreshold.')
param lockoutWindow string = '1h'
@description('The first lockout; each further one before a successful sign-in lasts twice as long, up to lockoutMaxDuration.')
param lockoutDuration string = '15m'
param lockoutMaxDuration string = '24h'
param activityInterval string = '1h'
param privacyNoticeVersion string = '2026-01'
@description('A closed account is erased this long after closing and can be restored until then (P7, P8).')
param erasureDelay string = '720h'
@minValue(1)
@maxValue(64)
param hashConcurrency int = 4
@description('Password hashes that may wait for a turn; past that a request gets 503 busy.')
@minValue(0)
@maxValue(1024)
param hashQueue int = 32
@description('Per instance and endpoint (sign-in, password reset, invitation accept): requests per client address and minute, and at once.')
param throttleClientPerMinute int = 60
param throttleClientBurst int = 20
@description('Per instance and endpoint: requests per minute from all clients together, and at once.')
param throttleGlobalPerMinute int = 300
param throttleGlobalBurst int = 50
param throttleMaxClients int = 10000
param maxBodyBytes int = 65536

// ---------------------------------------------------------------- lifecycle sweep (P6, P7; defaults = DESIGN §4)

@description('NCRONTAB (6 fields, UTC: Flex Consumption has no time zones) of the daily LifecycleSweep timer.')
param lifecycleSchedule string = '0 0 2 * * *'
@description('NCRONTAB (6 fields, UTC) of the OutboxDrain timer, which delivers what a crashed instance left in an outbox: Flex Consumption scales to zero, so this work needs a trigger of its own.')
param outboxDrainSchedule string = '0 */5 * * * *'
@description('An account is closed this many calendar months after its last activity (P6).')
@minValue(1)
@maxValue(120)
param inactivityMonths int = 6
@description('Inactivity warnings this many days before closing, comma-separated.')
param warningDays string = '30,7'
@description('Closing and erasing wait this long past their time (clock skew, REL-10).')
param safetyMargin string = '1h'
@description('A sweep stops starting new work after this long; below the 10-minute functionTimeout in host.json.')
param sweepBudget string = '8m'
@description('Audit events are kept this many months.')
@minValue(1)
@maxValue(120)
param auditRetentionMonths int = 24
@description('Notification delivery records are kept this long.')
param deliveryRetention string = '720h'

// ---------------------------------------------------------------- operations

@description('Email address that alerts go to.')
param alertEmail string

@description('Days Log Analytics keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 90

@description('Optional: object id of the ops group (or user) that runs bootstrap-admin, sweeps and dead-letter redrives against Azure. Gets Key Vault Secrets Officer, Storage Table Data Contributor and Service Bus Data Sender + Receiver on the queue. Empty = no assignment (grant them another way, e.g. PIM).')
param opsPrincipalId string = ''

@allowed([
  'Group'
  'User'
  'ServicePrincipal'
])
param opsPrincipalType string = 'Group'

// ---------------------------------------------------------------- names

var suffix = uniqueString(subscription().id, resourceGroup().id, name)
var baseName = toLower(name)
var names = {
  storage: 'st${baseName}${suffix}'
  serviceBus: 'sb-${baseName}-${suffix}'
  keyVault: 'kv-${take(baseName, 6)}-${suffix}'
  logAnalytics: 'log-${baseName}-${suffix}'
  appInsights: 'appi-${baseName}-${suffix}'
  plan: 'plan-${baseName}-${suffix}'
  functionApp: 'func-${baseName}-${suffix}'
  actionGroup: 'ag-${baseName}-${suffix}'
}
var deploymentContainerName = 'app-package'

// The same list as @allowed on `location`, for the policy assignment.
var euFlexRegions = [
  'northeurope'
  'westeurope'
  'swedencentral'
  'germanywestcentral'
  'francecentral'
  'italynorth'
  'spaincentral'
]

// ---------------------------------------------------------------- resources

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    retentionInDays: logRetentionDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    accountName: names.storage
    sku: storageSku
    deploymentContainerName: deploymentContainerName
    tablePrefix: tablePrefix
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    location: location
    tags: tags
    namespaceName: names.serviceBus
    queueName: notificationQueueName
    maxDeliveryCount: notificationMaxDeliveries
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    tags: tags
    vaultName: names.keyVault
    publicNetworkAccess: keyVaultPublicNetworkAccess
    createMode: keyVaultCreateMode
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    tags: tags
    planName: names.plan
    appName: names.functionApp
    maximumInstanceCount: maximumInstanceCount
    scmBasicAuth: scmBasicAuth
    storageAccountName: storage.outputs.accountName
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    tablesEndpoint: storage.outputs.tableEndpoint
    tablePrefix: tablePrefix
    keyVaultUri: keyVault.outputs.vaultUri
    pepperSecretName: pepperSecretName
    auditKeySecretName: auditKeySecretName
    mfaKeySecretName: mfaKeySecretName
    mfaRequiredForAll: mfaRequiredForAll
    serviceBusFqdn: serviceBus.outputs.fullyQualifiedNamespace
    notificationQueueName: serviceBus.outputs.queueName
    notificationMaxDeliveries: serviceBus.outputs.maxDeliveryCount
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    appBaseUrl: appBaseUrl
    corsAllowedOrigins: corsAllowedOrigins
    webauthnRpId: webauthnRpId
    webauthnRpName: webauthnRpName
    webauthnOrigins: webauthnOrigins
    emailProvider: emailProvider
    emailFrom: emailFrom
    smtpHost: smtpHost
    smtpPort: smtpPort
    smtpSecurity: smtpSecurity
    smtpUsername: smtpUsername
    smtpPasswordSecretName: smtpPasswordSecretName
    sesRegion: sesRegion
    sesConfigurationSet: sesConfigurationSet
    privacyController: privacyController
    privacyContact: privacyContact
    sesAccessKeyIdSecretName: sesAccessKeyIdSecretName
    sesSecretAccessKeySecretName: sesSecretAccessKeySecretName
    sessionIdleTimeout: sessionIdleTimeout
    sessionAbsoluteTimeout: sessionAbsoluteTimeout
    invitationTtl: invitationTtl
    passwordResetTtl: passwordResetTtl
    lockoutThreshold: lockoutThreshold
    lockoutWindow: lockoutWindow
    lockoutDuration: lockoutDuration
    lockoutMaxDuration: lockoutMaxDuration
    activityInterval: activityInterval
    privacyNoticeVersion: privacyNoticeVersion
    erasureDelay: erasureDelay
    hashConcurrency: hashConcurrency
    hashQueue: hashQueue
    throttleClientPerMinute: throttleClientPerMinute
    throttleClientBurst: throttleClientBurst
    throttleGlobalPerMinute: throttleGlobalPerMinute
    throttleGlobalBurst: throttleGlobalBurst
    throttleMaxClients: throttleMaxClients
    maxBodyBytes: maxBodyBytes
    lifecycleSchedule: lifecycleSchedule
    outboxDrainSchedule: outboxDrainSchedule
    inactivityMonths: inactivityMonths
    warningDays: warningDays
    safetyMargin: safetyMargin
    sweepBudget: sweepBudget
    auditRetentionMonths: auditRetentionMonths
    deliveryRetention: deliveryRetention
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    appPrincipalId: functionApp.outputs.principalId
    storageAccountName: storage.outputs.accountName
    serviceBusNamespaceName: serviceBus.outputs.namespaceName
    queueName: serviceBus.outputs.queueName
    keyVaultName: keyVault.outputs.vaultName
    appInsightsName: monitoring.outputs.appInsightsName
    opsPrincipalId: opsPrincipalId
    opsPrincipalType: opsPrincipalType
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    tags: tags
    actionGroupName: names.actionGroup
    alertEmail: alertEmail
    serviceBusNamespaceId: serviceBus.outputs.namespaceId
    queueName: serviceBus.outputs.queueName
    appInsightsId: monitoring.outputs.appInsightsId
    baseName: baseName
  }
}

module policy 'modules/policy.bicep' = if (enableAllowedLocationsPolicy) {
  name: 'policy'
  params: {
    allowedLocations: euFlexRegions
  }
}

// ---------------------------------------------------------------- outputs (make deploy reads these)

output appName string = functionApp.outputs.appName
output defaultHostName string = functionApp.outputs.defaultHostName
output keyVaultName string = keyVault.outputs.vaultName
output keyVaultUri string = keyVault.outputs.vaultUri
output pepperSecretName string = pepperSecretName
output auditKeySecretName string = auditKeySecretName
output mfaKeySecretName string = mfaKeySecretName
// The random keys make deploy generates when missing (scripts/ensure-secret.sh).
output generatedSecrets array = [pepperSecretName, auditKeySecretName, mfaKeySecretName]
output serviceBusNamespace string = serviceBus.outputs.fullyQualifiedNamespace
output notificationQueue string = serviceBus.outputs.queueName
output storageAccountName string = storage.outputs.accountName
output tablesEndpoint string = storage.outputs.tableEndpoint
output emailProvider string = emailProvider
// The secrets the app reads through Key Vault; make deploy checks that
// each exists (and creates the generated ones) before it publishes the app.
var smtpSecrets = emailProvider == 'smtp' && !empty(smtpUsername) ? [smtpPasswordSecretName] : []
var sesSecrets = emailProvider == 'ses' ? [sesAccessKeyIdSecretName, sesSecretAccessKeySecretName] : []
output requiredSecrets array = concat([pepperSecretName, auditKeySecretName, mfaKeySecretName], smtpSecrets, sesSecrets)
