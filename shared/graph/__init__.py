"""Microsoft Graph adapter: the MailboxGateway on msgraph-sdk and Graph<->domain mapping."""
