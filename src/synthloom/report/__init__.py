"""Know your data: metrics over the dataset view (lexical and embedding diversity, realism
against a reference, collapse, axes and bias), the train-on-synthetic, test-on-real fitness
check, and the HTML report that presents them."""
