// Example parameters for one environment; copy it per environment
// (e.g. infra/prod.bicepparam) and pass it as PARAMS to make deploy.
// Every value not set here has a default in main.bicep.
using './main.bicep'

param location = 'westeurope'
param name = 'useradmin'

param appBaseUrl = 'https://palvelumanuaali.example.fi'
param corsAllowedOrigins = [
  'https://palvelumanuaali.example.fi'
]

param emailProvider = 'smtp'
param emailFrom = 'Palvelumanuaali <no-reply@palvelumanuaali.example.fi>'
param smtpHost = 'smtp.example.fi'
param smtpPort = 587
param smtpSecurity = 'starttls'
param smtpUsername = 'palvelumanuaali'
param smtpPasswordSecretName = 'smtp-password'

// Amazon SES instead of SMTP:
// param emailProvider = 'ses'
// param sesRegion = 'eu-north-1'

param alertEmail = 'ops@example.fi'

param maximumInstanceCount = 40
param enableAllowedLocationsPolicy = false

// The ops group that runs bootstrap-admin, sweeps and redrives (object id):
// param opsPrincipalId = '00000000-0000-0000-0000-000000000000'
