package testenv

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
)

// AzuriteAccountKey is Azurite's well-known development account key. It is
// public and works only against the emulator.
const AzuriteAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

var (
	azuriteOnce sync.Once
	azurite     process
)

// AzuriteConnectionString returns a Table Storage connection string for an
// Azurite started for this test binary (in memory, telemetry off). When
// USERADMIN_TEST_TABLE_ENDPOINT is set (make test shares one emulator across
// packages) that endpoint is used instead. It fails the test when Azurite
// cannot be started.
func AzuriteConnectionString(tb testing.TB) string {
	tb.Helper()
	if endpoint := os.Getenv("USERADMIN_TEST_TABLE_ENDPOINT"); endpoint != "" {
		return connectionString(endpoint)
	}
	azuriteOnce.Do(func() {
		azurite = startTool(tb, "azurite-table", func() ([]int, []string) {
			port := FreePort(tb)
			return []int{port}, []string{
				"--inMemoryPersistence", "--disableTelemetry", "--silent",
				"--tableHost", "127.0.0.1", "--tablePort", strconv.Itoa(port),
			}
		})
	})
	if azurite.err != nil {
		tb.Fatalf("testenv: azurite: %v", azurite.err)
	}
	return connectionString(fmt.Sprintf("http://127.0.0.1:%d/devstoreaccount1", azurite.ports[0]))
}

// AzuriteConnectionStringFor is the emulator's connection string for a
// table endpoint of the caller's choosing (nothing is started).
func AzuriteConnectionStringFor(tableEndpoint string) string { return connectionString(tableEndpoint) }

func connectionString(tableEndpoint string) string {
	return "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + AzuriteAccountKey +
		";TableEndpoint=" + tableEndpoint + ";"
}
