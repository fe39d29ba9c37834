package testenv

import (
	"context"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// Calls tells the kinds of storage request apart as Table Storage bills
// and indexes them, per table without the prefix (issue 11's call counts
// rest on it).
func TestCallsCountsByKindAndTable(t *testing.T) {
	prefix := UniqueName(t)
	calls := NewCalls(prefix)
	opts := &aztables.ClientOptions{ClientOptions: azcore.ClientOptions{PerRetryPolicies: []policy.Policy{calls}}}
	svc, err := aztables.NewServiceClientFromConnectionString(AzuriteConnectionString(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.CreateTable(ctx, prefix+"users", nil); err != nil {
		t.Fatal(err)
	}
	users := svc.NewClient(prefix + "users")
	calls.Reset()

	if _, err := users.AddEntity(ctx, []byte(`{"PartitionKey":"p1","RowKey":"a"}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := users.UpsertEntity(ctx, []byte(`{"PartitionKey":"p1","RowKey":"b"}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := users.GetEntity(ctx, "p1", "a", nil); err != nil {
		t.Fatal(err)
	}
	filter := "PartitionKey eq 'p1'"
	pager := users.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	for pager.More() {
		if _, err := pager.NextPage(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := users.SubmitTransaction(ctx, []aztables.TransactionAction{
		{ActionType: aztables.TransactionTypeAdd, Entity: []byte(`{"PartitionKey":"p2","RowKey":"a"}`)},
		{ActionType: aztables.TransactionTypeAdd, Entity: []byte(`{"PartitionKey":"p2","RowKey":"b"}`)},
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := users.DeleteEntity(ctx, "p1", "b", nil); err != nil {
		t.Fatal(err)
	}

	got := calls.Snapshot()
	want := CallCounts{
		{Kind: Write, Table: "users"}:     3,
		{Kind: PointRead, Table: "users"}: 1,
		{Kind: Query, Table: "users"}:     1,
		{Kind: Batch, Table: "users"}:     1,
	}
	if len(got) != len(want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s %s = %d, want %d (all: %v)", k.Kind, k.Table, got[k], v, got)
		}
	}
	if got.Total() != 6 || got.Kind(Write) != 3 {
		t.Errorf("total %d, writes %d; want 6 and 3", got.Total(), got.Kind(Write))
	}
	calls.Reset()
	if n := calls.Snapshot().Total(); n != 0 {
		t.Errorf("after Reset: %d calls", n)
	}
}
