package delivery

import "github.com/palvelumanuaali/useradmin/internal/notify"

// DecodeMessage exposes the consumer's strict body decoder to the fuzz
// test; production reaches it only through Consumer.Receive.
func DecodeMessage(d Delivery) (notify.Message, error) { return decodeMessage(d) }
