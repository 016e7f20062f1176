// Package clean normalises and validates canonical field values before they are
// copied into another system: trimming, e-mail, phone numbers in E.164, ISO 3166
// country codes, VAT numbers. A value that cannot be cleaned is an error naming the
// rule; the engine quarantines the record with the field and reason.
package clean
