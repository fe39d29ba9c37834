// Package servicebus puts notifications on the Azure Service Bus queue
// that the SendNotification function consumes. It is keyless in Azure
// (the namespace and DefaultAzureCredential); a connection string exists
// only for a developer's own namespace. Open returns the package's own
// Publisher, so callers wire it without the SDK.
//
// Each message's MessageId is the notification's id, so Service Bus
// duplicate detection drops a relay's re-send within its window, and the
// consumer's claim catches anything later. The body is the notification
// JSON: ids, the recipient's address and first name, nothing more.
package servicebus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// sender is the slice of *azservicebus.Sender the publisher uses.
type sender interface {
	SendMessage(ctx context.Context, m *azservicebus.Message, o *azservicebus.SendMessageOptions) error
	Close(ctx context.Context) error
}

// Publisher implements relay.Publisher on a Service Bus queue.
type Publisher struct {
	sender sender
}

// Config says which queue to publish to and how to reach it: Namespace
// (keyless, with DefaultAzureCredential) or, for a developer's own
// namespace only, ConnectionString.
type Config struct {
	Namespace        string // such as "ua-prod.servicebus.windows.net"
	ConnectionString string
	Queue            string
}

// Open returns a publisher to cfg.Queue. It opens no connection: the first
// Publish does, so start-up makes no network call. It returns an error
// when neither or both of Namespace and ConnectionString are set, when the
// connection string is not valid (without quoting it), and wraps errors
// from the credential and the SDK client.
func Open(cfg Config) (*Publisher, error) {
	var (
		client *azservicebus.Client
		err    error
	)
	switch {
	case cfg.Namespace != "" && cfg.ConnectionString != "":
		return nil, errors.New("service bus: set only one of Namespace and ConnectionString")
	case cfg.Namespace != "":
		cred, credErr := azidentity.NewDefaultAzureCredential(nil)
		if credErr != nil {
			return nil, fmt.Errorf("service bus credential: %w", credErr)
		}
		if client, err = azservicebus.NewClient(cfg.Namespace, cred, nil); err != nil {
			return nil, fmt.Errorf("service bus client: %w", err)
		}
	case cfg.ConnectionString != "":
		if client, err = azservicebus.NewClientFromConnectionString(cfg.ConnectionString, nil); err != nil {
			return nil, errors.New("service bus connection string is not valid")
		}
	default:
		return nil, errors.New("service bus: Namespace or ConnectionString must be set")
	}
	s, err := client.NewSender(cfg.Queue, nil)
	if err != nil {
		return nil, fmt.Errorf("service bus sender: %w", err)
	}
	return &Publisher{sender: s}, nil
}

// ContentType of every message body.
const ContentType = "application/json"

// KindProperty is the application property naming the notification kind,
// for subscriptions, metrics and the dead-letter runbook.
const KindProperty = "kind"

// Message builds the Service Bus message for a notification.
func Message(m notify.Message) (*azservicebus.Message, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode notification: %w", err)
	}
	return &azservicebus.Message{
		MessageID:             to.Ptr(m.ID),
		ContentType:           to.Ptr(ContentType),
		Subject:               to.Ptr(string(m.Kind)),
		ApplicationProperties: map[string]any{KindProperty: string(m.Kind)},
		Body:                  body,
	}, nil
}

// Publish implements relay.Publisher.
func (p *Publisher) Publish(ctx context.Context, m notify.Message) error {
	msg, err := Message(m)
	if err != nil {
		return err
	}
	if err := p.sender.SendMessage(ctx, msg, nil); err != nil {
		return fmt.Errorf("service bus send %s: %w", m.ID, err)
	}
	return nil
}

// Close releases the connection.
func (p *Publisher) Close(ctx context.Context) error { return p.sender.Close(ctx) }
