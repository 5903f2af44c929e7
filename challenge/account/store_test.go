package account_test

import (
	"testing"

	"github.com/enumgate/enumgate/challenge/account"
	"github.com/enumgate/enumgate/challenge/account/accounttest"
)

func TestMemoryStoreConformance(t *testing.T) {
	accounttest.Run(t, func(t *testing.T) account.Store { return account.NewMemoryStore() })
}
