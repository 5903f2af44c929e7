package trust_test

import (
	"testing"

	"github.com/enumgate/enumgate/challenge/trust"
	"github.com/enumgate/enumgate/challenge/trust/trusttest"
)

func TestMemoryStoreConformance(t *testing.T) {
	trusttest.Run(t, func(t *testing.T, o trusttest.Options) trust.Store {
		return trust.NewMemoryStore(trust.MemoryOptions{RiskRetention: o.RiskRetention, Now: o.Now})
	})
}
