package account

import "time"

// Kinds of pending items and of claims.
const (
	// KindPhone is a phone number (E.164).
	KindPhone = "phone"
	// KindEmail is an e-mail address.
	KindEmail = "email"
	// KindEnroll is a device enrolment awaiting activation.
	KindEnroll = "enroll"
)

// Notify are the customer's notification switches.
type Notify struct {
	// Confirmed: mail a notice of every confirmed operation.
	Confirmed bool `json:"confirmed"`
	// Rejected: mail a notice of every rejected one (wrong answers,
	// attempts exhausted, lockout, expiry, refusals).
	Rejected bool `json:"rejected"`
	// AdditionalAddresses: send notices to the additional addresses too,
	// not only to the primary one.
	AdditionalAddresses bool `json:"additional_addresses"`
}

// DefaultNotify is the switches of a user who never set them: notices of
// confirmed and of rejected operations, to the primary address only.
var DefaultNotify = Notify{Confirmed: true, Rejected: true}

// Email is one of the user's addresses.
type Email struct {
	// Address is the normalized address (see NormalizeEmail).
	Address string `json:"address"`
	// Primary marks the primary address (exactly one of a user's, listed
	// first); the mailed E-num answer goes there.
	Primary bool `json:"primary,omitempty"`
	// OnFile marks an address from the operator's directory that the
	// customer never verified here (kept when they verify another one).
	// All others are verified.
	OnFile bool `json:"on_file,omitempty"`
}

// DeviceInfo describes an E-num device, without its key.
type DeviceInfo struct {
	// Name labels the device.
	Name string `json:"name"`
	// Suite is its OCRA suite.
	Suite string `json:"suite"`
	// Enrolled is when it was activated (zero for a device from the
	// directory).
	Enrolled time.Time `json:"enrolled,omitzero"`
}

// View is what the account page and API show the signed-in customer.
type View struct {
	// User is the user's id.
	User string
	// Phone is the phone codes go to, unmasked ("" none).
	Phone string
	// PhoneOnFile: Phone came from the directory, never verified here.
	PhoneOnFile bool
	// Emails are the addresses, the primary first.
	Emails []Email
	// Devices are the E-num devices (no keys).
	Devices []DeviceInfo
	// Notify are the notification switches.
	Notify Notify
	// Enrollment is the pending enrolment, if any (its URI is omitted: it
	// is shown once, by StartEnrollment).
	Enrollment *Enrollment
	// Recovery is the open recovery request, if any.
	Recovery *Recovery
	// NeedsRegistration: no verified phone, no verified address and no
	// device — the customer should register.
	NeedsRegistration bool
}

// Enrollment is a device enrolment awaiting activation.
type Enrollment struct {
	// ID is the enrolment's id (22 characters of base64url).
	ID string
	// URI is the enrolment URI carrying the new key (package enroll);
	// set only in StartEnrollment's result.
	URI string
	// Question is the activation question: the app's answer to it with the
	// new key activates the device.
	Question string
	// Expires is when the enrolment lapses.
	Expires time.Time
	// AttemptsLeft is what remains of the answer budget.
	AttemptsLeft int
}

// Recovery is a request for access through support (a lost device).
type Recovery struct {
	// ID is the request's id (22 characters of base64url).
	ID string `json:"id"`
	// User is whose request it is.
	User string `json:"user"`
	// Opened is when the customer opened it.
	Opened time.Time `json:"opened"`
	// Reason is the customer's words (at most MaxTextLen runes).
	Reason string `json:"reason,omitempty"`
	// Contact is the masked phone or address the customer can be reached at.
	Contact string `json:"contact,omitempty"`
	// State is RecoveryOpen or RecoveryClosed.
	State string `json:"state"`
	// Closed is when an operator closed it.
	Closed time.Time `json:"closed,omitzero"`
	// ResetDevice: closing removed the user's devices.
	ResetDevice bool `json:"reset_device,omitempty"`
	// Note is the operator's note (at most MaxTextLen runes).
	Note string `json:"note,omitempty"`
}

// Recovery states.
const (
	RecoveryOpen   = "open"
	RecoveryClosed = "closed"
)

// Verification is a code sent to a phone or address, awaiting its entry.
type Verification struct {
	// ID is the verification's id (22 characters of base64url).
	ID string
	// Kind is KindPhone or KindEmail.
	Kind string
	// To is the masked destination.
	To string
	// Expires is when the code lapses.
	Expires time.Time
}

// State is what the account keeps of one user, overlaying the directory's
// user (see the package documentation). It is JSON-encoded by stores.
type State struct {
	// User is the user's id.
	User string `json:"user"`
	// Phone is the verified phone ("" none: the directory's applies).
	Phone string `json:"phone,omitempty"`
	// Emails are the account's addresses, primary first; nil means the
	// directory's apply.
	Emails []Email `json:"emails"`
	// DevicesSet: Devices replace the directory's (even when empty).
	DevicesSet bool `json:"devices_set,omitempty"`
	// Devices are the customer's devices, keys sealed.
	Devices []StoredDevice `json:"devices,omitempty"`
	// Notify are the switches; nil means DefaultNotify.
	Notify *Notify `json:"notify,omitempty"`
	// Pending names the user's pending items by kind (one per kind).
	Pending map[string]PendingRef `json:"pending,omitempty"`
	// OpenRecovery is the id of the user's open recovery request.
	OpenRecovery string `json:"open_recovery,omitempty"`
	// OpenRecoveryAt is when OpenRecovery was set.
	OpenRecoveryAt time.Time `json:"open_recovery_at,omitzero"`
}

// StoredDevice is a device as the State keeps it.
type StoredDevice struct {
	// Name labels the device.
	Name string `json:"name"`
	// Suite is its OCRA suite.
	Suite string `json:"suite"`
	// Enrolled is when it was activated.
	Enrolled time.Time `json:"enrolled"`
	// SealedKey is the key, sealed (see the package documentation).
	SealedKey []byte `json:"sealed_key"`
}

// PendingRef names a pending item in the State, with the resend cooldown.
type PendingRef struct {
	// ID is the pending item's id.
	ID string `json:"id"`
	// ResendAt is when another message may be sent.
	ResendAt time.Time `json:"resend_at"`
}

// Pending is a code or an enrolment awaiting the customer's answer. Stores
// keep it until Expires, or until it is answered or its budget spent.
type Pending struct {
	// ID is its id, unique per user.
	ID string `json:"id"`
	// User is whose it is.
	User string `json:"user"`
	// Kind is KindPhone, KindEmail or KindEnroll.
	Kind string `json:"kind"`
	// Value is the phone or address being verified, or the device name.
	Value string `json:"value"`
	// MAC is the keyed MAC of the expected code or answer.
	MAC []byte `json:"mac"`
	// AttemptsLeft is what remains of the budget.
	AttemptsLeft int `json:"attempts_left"`
	// Expires is when it lapses.
	Expires time.Time `json:"expires"`
	// ResendAt is when another message may be sent (informational; the
	// cooldown is decided on the State's PendingRef).
	ResendAt time.Time `json:"resend_at,omitzero"`
	// Suite is the new device's suite (enrolments).
	Suite string `json:"suite,omitempty"`
	// SealedKey is the new device's key, sealed (enrolments).
	SealedKey []byte `json:"sealed_key,omitempty"`
	// Question is the activation question (enrolments).
	Question string `json:"question,omitempty"`
}
