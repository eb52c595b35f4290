package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/soccerpredict/soccerpredict/host/internal/mlmodel"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/model"
)

// runModelsImport registers an ONNX model directory logged by MLflow (or
// written by `models export`) as a new version, once its signature fits
// the feature plugin's schema and the model plugin has loaded it and
// answered a valid forecast with it.
func runModelsImport(e env, args []string) error {
	fs, c := newFlags(e, "models import")
	alias := fs.String("alias", "candidate", "point this alias at the imported version")
	name := fs.String("name", "", "the model's name (default: the directory's metadata name, else its base name)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: models import takes one model directory, e.g. models import mlruns/0/RUN/artifacts/model", errUsage)
	}
	dir := fs.Arg(0)
	artifact, sig, meta, err := mlmodel.Read(dir)
	if err != nil {
		return err
	}
	parts, err := assemble(e, c)
	if err != nil {
		return err
	}
	defer parts.Close()
	if err := gateChampion(e, parts, *alias, "import it as a candidate (the default --alias)"); err != nil {
		return err
	}
	schema, err := pluginhost.FeaturesOf(parts.features).Schema(e.ctx)
	if err != nil {
		return err
	}
	// The graph must be what the onnx plugin runs: one input "features"
	// [N, F] with the schema's width, and probabilities [N, 3].
	ins, outs, err := mlmodel.GraphIO(artifact)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if len(ins) != 1 || ins[0].Name != "features" || len(ins[0].Shape) != 2 || ins[0].Shape[1] != int64(len(schema.Columns)) {
		return fmt.Errorf("%s: the graph's inputs are %v; the feature plugin's schema %s needs one input \"features\" [N, %d]", dir, ins, schema.Version, len(schema.Columns))
	}
	hasProbs := false
	for _, o := range outs {
		hasProbs = hasProbs || o.Name == "probabilities" && len(o.Shape) == 2 && o.Shape[1] == 3
	}
	if !hasProbs {
		return fmt.Errorf("%s: the graph has no output probabilities [N, 3] (home, draw, away)", dir)
	}
	if sig.Inputs == nil {
		// A tensor signature without column names: the width matched, so
		// the columns are taken to be the schema's, in its order.
		sig.Inputs = schema.Columns
	}
	if err := sig.CheckInputs(schema.Columns); err != nil {
		return fmt.Errorf("%s: the signature does not fit the feature plugin's schema %s: %w", dir, schema.Version, err)
	}
	sig.Outputs = model.Outputs
	// The model plugin loads it and answers one forecast before it is registered.
	m := pluginhost.ModelOf(parts.model)
	if err := m.Load(e.ctx, model.LoadRequest{Artifact: artifact, Signature: sig}); err != nil {
		return fmt.Errorf("%s: the model plugin %s cannot load it: %w", dir, parts.cfg.Model.Plugin, err)
	}
	pred, err := m.Predict(e.ctx, model.PredictRequest{Rows: [][]float64{make([]float64, len(schema.Columns))}})
	if err != nil {
		return fmt.Errorf("%s: the model plugin %s loaded it but cannot predict with it: %w", dir, parts.cfg.Model.Plugin, err)
	}
	if len(pred.Probabilities) != 1 || pred.Probabilities[0].Validate() != nil {
		return fmt.Errorf("%s: the model's forecast for a row of zeros is not a distribution: %v", dir, pred.Probabilities)
	}
	if *name == "" {
		if *name = meta.Metadata["name"]; *name == "" {
			*name = filepath.Base(filepath.Clean(dir))
		}
	}
	params, _ := json.Marshal(map[string]string{"imported_from": dir, "mlflow_run_id": meta.RunID, "mlflow_model_uuid": meta.ModelUUID})
	mv, err := parts.store.RegisterModel(e.ctx, store.ModelVersion{Name: *name, ModelPlugin: parts.cfg.Model.Plugin, Artifact: artifact, Signature: sig,
		FeaturePlugin: parts.cfg.Features.Plugin, FeatureSchemaVersion: schema.Version, Params: params, TrainingDataHash: meta.Metadata["training_data_hash"]})
	if err != nil {
		return err
	}
	g, err := parts.store.Promote(e.ctx, store.Promotion{Alias: *alias, Version: mv.Version, Action: "import", Actor: actor(e),
		Reason: "models import " + dir, PluginDigest: digest(parts.model)})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "imported %s as %s v%d (feature schema %s, artifact sha256 %s); %s -> v%d", dir, mv.Name, mv.Version, schema.Version, mv.ArtifactSHA256[:16], *alias, mv.Version)
	if g.ID > 0 {
		fmt.Fprintf(e.stdout, " (generation %d)", g.ID)
	}
	fmt.Fprintln(e.stdout)
	return nil
}
