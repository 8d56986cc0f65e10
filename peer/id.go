package peer

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// IDFile is the identity's file in a state directory: the certificate
// and the private key, PEM encoded, mode 0600.
const IDFile = "id.pem"

// An Identity is a replfs's key pair and self-signed certificate.
type Identity struct {
	Name string      // the certificate's common name
	FP   Fingerprint // of the certificate
	Cert tls.Certificate
}

// LoadIdentity reads the identity in dir, making one named name on
// first use (name is ignored once it exists). The file is written
// atomically and durably, and is refused if others may read it.
func LoadIdentity(dir, name string) (*Identity, error) {
	path := filepath.Join(dir, IDFile)
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		if err := makeIdentity(path, name); err != nil {
			return nil, fmt.Errorf("make identity %s: %w", path, err)
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0077 != 0 {
		return nil, fmt.Errorf("%s: mode %#o: others may read the private key", path, fi.Mode().Perm())
	}
	id, err := parseIdentity(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return id, nil
}

func parseIdentity(b []byte) (*Identity, error) {
	c, err := tls.X509KeyPair(b, b)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil, err
	}
	if !validName(leaf.Subject.CommonName) {
		return nil, fmt.Errorf("bad name %q in certificate", leaf.Subject.CommonName)
	}
	c.Leaf = leaf
	return &Identity{Name: leaf.Subject.CommonName, FP: Of(leaf.Raw), Cert: c}, nil
}

// NewIdentity makes a key pair and a certificate for name, in memory.
func NewIdentity(name string) (*Identity, error) {
	b, err := newPEM(name)
	if err != nil {
		return nil, err
	}
	return parseIdentity(b)
}

// newPEM makes an Ed25519 key and a self-signed certificate naming
// name, valid for ever, and returns both PEM encoded.
func newPEM(name string) ([]byte, error) {
	if !validName(name) {
		return nil, fmt.Errorf("bad name %q", name)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, err
	}
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k})...), nil
}

// makeIdentity writes a new identity to path, which must not exist:
// a temporary file made 0600, fsynced, linked into place (so two
// first starts cannot both win), and the directory fsynced.
func makeIdentity(path, name string) error {
	b, err := newPEM(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+IDFile+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err = f.Chmod(0600); err == nil {
		if _, err = f.Write(b); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil // made meanwhile: use that one
		}
		// No hard links (Plan 9): rename, which may replace one
		// made meanwhile.
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
