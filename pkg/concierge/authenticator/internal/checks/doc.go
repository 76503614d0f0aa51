// SPDX-License-Identifier: Apache-2.0

// Package checks runs an authenticator controller's validations in order and
// turns them into status conditions: one condition per check, checks after a
// failure reported as Unknown/UnableToValidate unless they are independent, and
// a Ready condition that is True only when every other condition is True (wire
// contract §1, shared conventions). It also paces re-validation of failing
// resources.
//
// It owns the condition bookkeeping shared by the JWTAuthenticator and
// WebhookAuthenticator controllers; it does not know what the checks do.
package checks
