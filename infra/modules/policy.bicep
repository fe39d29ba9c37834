// Optional guard rail (enableAllowedLocationsPolicy): the built-in "Allowed
// locations" policy on this resource group, so that nothing, not even a
// resource created by hand in the portal, lands outside the EU regions (P12).
// The built-in definition exempts resources whose location is 'global'
// (alert rule and action group definitions).

param allowedLocations array

resource allowedLocationsAssignment 'Microsoft.Authorization/policyAssignments@2024-04-01' = {
  name: 'useradmin-allowed-locations-eu'
  properties: {
    displayName: 'User administration: EU regions only (P12)'
    description: 'Resources in this group may only be created in EU regions.'
    policyDefinitionId: tenantResourceId('Microsoft.Authorization/policyDefinitions', 'e56962a6-4747-49cd-b67b-bf8b01975c4c')
    enforcementMode: 'Default'
    parameters: {
      listOfAllowedLocations: {
        value: allowedLocations
      }
    }
    nonComplianceMessages: [
      {
        message: 'Personal data of the Employment Services Manual stays in the EU: use one of the EU regions.'
      }
    ]
  }
}

output assignmentId string = allowedLocationsAssignment.id
